/// Who crafts the adversarial examples, relative to the model under evaluation.
public enum ThreatModel: String, Codable, Sendable, CaseIterable {
    /// The attacked model itself (stronger than the paper's settings: the honest default).
    case whiteBox = "white-box"
    /// Same architecture and defense, parameters hidden: an independently trained copy (another seed).
    case grayBox = "gray-box"
    /// Transfer from a different, deeper architecture (the paper: ResNet-152 → ResNet-101).
    case blackBox = "black-box"
}
