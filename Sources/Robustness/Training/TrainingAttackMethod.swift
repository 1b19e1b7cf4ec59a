import Store

/// How adversarial training makes x′ for each batch: the training attack's `PGDConfiguration` says
/// ε, the step and the start; the method says how many gradient passes buy one x′. It applies to
/// every adversarial objective (PAT, ALP, AT, AT+ALP, TRADES, MART, and the PAT of RAT and FD).
///
/// - `pgd`: `iterations` sign-gradient steps per optimiser step (Madry et al. 2018); the default.
/// - `fgsm`: one step of α = 1.25·ε from a uniform random start in the ε-ball ("FGSM-RS", Wong, Rice
///   & Kolter 2020, "Fast is better than free", §4 and their `fast_adversarial` code). The attack's
///   `iterations` is 1; `random_start: false` gives the plain FGSM training they show to overfit
///   catastrophically (their Table 1 / Figure 1, worse with larger α).
/// - `free(replays: m)`: free adversarial training (Shafahi et al. 2019, Algorithm 1): each batch is
///   replayed m times; every replay's one backward pass gives the parameter gradient (one optimiser
///   step) and the input gradient, and δ ← clip(δ + step·sign(∇ₓ′ L), −ε, ε) is carried to the next
///   replay and the next batch (x′ = clip(x + δ, 0, 1)). The step is ε (their `fgsm_step` = `clip_eps`).
///   So that the gradient budget stays that of standard training, the optimiser steps of a run are
///   `epochs × steps per epoch` as always, and the data is passed over `epochs / m` times ("we divide
///   the number of epochs by m", Shafahi et al. §4). atalp resets δ to 0 at the start of every
///   budget epoch (every `steps per epoch` optimiser steps) so that a run resumed from an epoch-end
///   checkpoint continues exactly; their code never resets it (one extra zero start per epoch).
public enum TrainingAttackMethod: Hashable, Sendable {
    case pgd
    case fgsm
    case free(replays: Int)

    public enum Kind: String, Sendable, CaseIterable {
        case pgd, fgsm, free
    }

    public enum Defaults {
        /// α/ε of FGSM-RS: Wong et al.'s 1.25 (CIFAR-10: α = 10/255 at ε = 8/255).
        public static let fgsmStepRatio: Float = 1.25
        /// m of free training: Shafahi et al.'s best CIFAR-10 value (their Table 1, m = 8).
        public static let replays = 8
    }

    public var kind: Kind {
        switch self {
        case .pgd: .pgd
        case .fgsm: .fgsm
        case .free: .free
        }
    }

    /// Optimiser steps per batch: m for free training, else 1.
    public var replays: Int {
        if case .free(let m) = self { return m }
        return 1
    }

    /// Whether this is one of the cheap methods whose failure mode is catastrophic overfitting, so that
    /// training monitors PGD and FGSM validation accuracy (`CatastrophicOverfitting`).
    public var isFast: Bool { self != .pgd }

    /// Reads a training attack's mapping (a defense's `attack:`): `method` (pgd, fgsm, free; default
    /// pgd) and, by method, the keys of `PGDConfiguration(from:)` (pgd); `epsilon`, `step_size`
    /// (default 1.25·ε) and `random_start` (default true) (fgsm); `epsilon`, `step_size` (default ε)
    /// and `replays` (default 8) (free). Rejects keys the method does not use.
    public static func decode(from f: any SettingsReader) throws -> (attack: PGDConfiguration, method: TrainingAttackMethod) {
        let kind = try f.choice("method", Kind.self) ?? .pgd
        if kind == .pgd { return (try PGDConfiguration(from: f), .pgd) }
        let epsilon = try f.double("epsilon", where: { $0 >= 0 }, "must be ≥ 0").map(Float.init) ?? PGDConfiguration.Defaults.epsilon
        let step = try f.double("step_size", where: { $0 >= 0 }, "must be ≥ 0").map(Float.init)
        if let k = try f.int("iterations"), k != 1 {
            throw f.error("iterations", "\(kind.rawValue) training takes one step per gradient pass (use method: pgd for \(k) iterations)")
        }
        if let r = try f.int("restarts"), r != 1 { throw f.error("restarts", "\(kind.rawValue) training makes one x′ per gradient pass") }
        let result: (PGDConfiguration, TrainingAttackMethod)
        switch kind {
        case .fgsm:
            result = (PGDConfiguration(epsilon: epsilon, stepSize: step ?? Defaults.fgsmStepRatio * epsilon, iterations: 1,
                                       randomStart: try f.bool("random_start") ?? true), .fgsm)
        case .free:
            let m = try f.int("replays", where: { $0 >= 1 }, "must be at least 1") ?? Defaults.replays
            result = (PGDConfiguration(epsilon: epsilon, stepSize: step ?? epsilon, iterations: 1, randomStart: false), .free(replays: m))
        case .pgd:
            fatalError("unreachable")
        }
        try f.finish()
        return result
    }

    /// The keys this method adds to the attack's encoding: none for pgd (so keys of runs made before
    /// methods existed stay the same), `method` for fgsm, `method` and `replays` for free.
    public var parameters: [String: ParameterValue] {
        switch self {
        case .pgd: [:]
        case .fgsm: ["method": .string("fgsm")]
        case .free(let m): ["method": .string("free"), "replays": .int(Int64(m))]
        }
    }

    /// The attack mapping as a pipeline file writes it: `attack.parameters` plus this method's keys.
    public func encode(_ attack: PGDConfiguration) -> ParameterValue {
        guard case .object(var p) = attack.parameters else { return attack.parameters }
        p.merge(parameters) { $1 }
        if case .free = self { p["random_start"] = nil }
        return .object(p)
    }

    /// "PGD-10 ε=0.1 step 0.025", "FGSM-RS ε=0.1 step 0.125", "free (m = 8) ε=0.1 step 0.1": for logs.
    public func describe(_ a: PGDConfiguration) -> String {
        let tail = "ε=\(a.epsilon) step \(a.stepSize)"
        switch self {
        case .pgd: return "PGD-\(a.iterations) \(tail)"
        case .fgsm: return "\(a.randomStart ? "FGSM-RS" : "FGSM (no random start)") \(tail)"
        case .free(let m): return "free (m = \(m)) \(tail)"
        }
    }
}
