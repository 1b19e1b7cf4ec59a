import Robustness

/// Which adversarial set an input or output is: the threat model it was made for and its ε. The
/// store's input roles and a pipeline file's `figure_sets` write it `white-box@0.1`, the report's
/// rows key on it; in code it is this value, parsed once.
public struct AdversarialSetRole: Hashable, Sendable, CustomStringConvertible {
    public var threatModel: ThreatModel
    public var epsilon: Double

    public init(_ threatModel: ThreatModel, _ epsilon: Double) {
        self.threatModel = threatModel
        self.epsilon = epsilon
    }

    /// `white-box@0.1` → (white-box, 0.1); nil for anything else (`data`, `model`, `clean`).
    public init?(_ text: String) {
        let parts = text.split(separator: "@")
        guard parts.count == 2, let threat = ThreatModel(rawValue: String(parts[0])), let epsilon = Double(parts[1]) else { return nil }
        self.init(threat, epsilon)
    }

    /// The role as the store writes it: `white-box@0.1`.
    public var description: String { "\(threatModel.rawValue)@\(epsilon)" }
}
