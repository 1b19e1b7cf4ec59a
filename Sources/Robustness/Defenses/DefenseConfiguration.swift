import NN

/// A training objective of the paper's family (equation 2):
///
///     L = w_clean·CE(f(x), y) + (1 − w_clean)·CE(f(x'), y) + α·L_ALP + β·L_AT
///
/// with x' = PGD(x) found on the fly. The ablations are settings of it: no defense (no attack, plain
/// CE), PAT (α = β = 0), ALP (β = 0), AT (α = 0) and AT+ALP.
public struct DefenseConfiguration: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case none, pat, alp, at, atalp
    }

    public var kind: Kind
    /// Weight of the logit-pairing term (`logitPairingLoss`).
    public var alpha: Float
    /// Weight of the attention term (`attentionPairingLoss`).
    public var beta: Float
    /// Indices of the groups whose attention maps are paired; nil means every group.
    public var attentionGroups: [Int]?
    /// Norm of the attention difference (the paper's p = 2).
    public var attentionNorm: Float
    /// Exponent in F(A) = mean_c |A_c|^exponent (2 in the paper and in attention transfer).
    public var attentionExponent: Float
    /// The attack that makes x' during training.
    public var attack: PGDConfiguration
    /// Share of the cross-entropy taken on clean examples (0: adversarial only, as equation 2).
    public var cleanLossWeight: Float
    /// Treat the clean branch as a fixed target in the pairing terms (no gradient through f(x)).
    public var detachClean: Bool

    public init(kind: Kind, alpha: Float = 0.5, beta: Float = 1, attentionGroups: [Int]? = nil, attentionNorm: Float = 2,
                attentionExponent: Float = 2, attack: PGDConfiguration = PGDConfiguration(epsilon: 0.1, stepSize: 0.01, iterations: 10),
                cleanLossWeight: Float = 0, detachClean: Bool = false) {
        self.kind = kind
        self.alpha = kind == .alp || kind == .atalp ? alpha : 0
        self.beta = kind == .at || kind == .atalp ? beta : 0
        self.attentionGroups = attentionGroups; self.attentionNorm = attentionNorm; self.attentionExponent = attentionExponent
        self.attack = attack; self.cleanLossWeight = cleanLossWeight; self.detachClean = detachClean
    }

    /// Whether training makes adversarial examples at all.
    public var isAdversarial: Bool { kind != .none }
    /// Whether a clean forward pass is needed besides the adversarial one.
    public var needsCleanPass: Bool { kind == .none || alpha != 0 || beta != 0 || cleanLossWeight != 0 }
}
