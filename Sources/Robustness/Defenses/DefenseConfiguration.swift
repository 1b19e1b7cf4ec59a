import NN
import Tensors

/// A training objective of the paper's family (equation 2), and the other baselines of its Table 1:
///
///     L = w_clean·CE(f(x), y) + (1 − w_clean)·CE(f(x'), y) + α·L_ALP + β·L_AT
///
/// with x' = PGD(x) found on the fly. The ablations are settings of it: no defense (no attack, plain
/// CE), PAT (α = β = 0), ALP (β = 0), AT (α = 0) and AT+ALP. The baselines (docs/defenses.md has
/// each one's source, defaults and the choices made):
///
/// - `igr`: CE + λ·‖∇ₓ CE‖² (Ross & Doshi-Velez 2017), the penalty by a finite difference along the
///   input gradient (Finlay & Oberman 2019); no adversarial examples.
/// - `rat`: PAT through input noise injection, noise kept at inference (Araujo et al. 2019).
/// - `randomization`: plain training; at inference random resize + zero padding (Xie et al. 2017).
/// - `fd`: PAT of a ResNet with feature-denoising blocks after chosen groups (Xie et al. 2018).
/// - `adp`: an ensemble of K ResNets trained with Σ CE − α·H(ensemble) − β·log det (Pang et al. 2019).
///
/// `makeModel(architecture:seed:)` builds the model a defense needs. Every field added for the
/// baselines has a default in the initialiser and in decoding, and is encoded only for the kinds that
/// read it, so configurations of the original five kinds encode (and hash into cache keys) as before.
///
///     let igr = DefenseConfiguration(kind: .igr, inputGradientWeight: 0.1)
///     let model = igr.makeModel(architecture: .resnet20(), seed: 0)
///     Trainer(model: model, configuration: training, defense: igr).run(on: data)
public struct DefenseConfiguration: Hashable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case none, pat, alp, at, atalp
        case igr, rat, randomization, fd, adp
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
    /// The attack that makes x' during training (pat, alp, at, atalp, rat, fd).
    public var attack: PGDConfiguration
    /// Share of the cross-entropy taken on clean examples (0: adversarial only, as equation 2).
    public var cleanLossWeight: Float
    /// Treat the clean branch as a fixed target in the pairing terms (no gradient through f(x)).
    public var detachClean: Bool

    // IGR
    /// λ of IGR: L = mean CE + λ·mean over the batch of ‖∇ₓ CEᵢ‖² (pixel units, [0, 1] images).
    public var inputGradientWeight: Float
    /// h of the finite difference (CE(x + h·d) − CE(x))/h ≈ ‖∇ₓ CE‖, d = ∇ₓ CE/‖∇ₓ CE‖.
    public var finiteDifferenceStep: Float

    // RAT
    public var noiseDistribution: NoiseDistribution
    /// σ (gaussian), b (laplace) or the half-width (uniform) of the input noise, pixel units.
    public var noiseScale: Float

    // Randomization
    /// Padded side over input side (Xie et al.: 331/299).
    public var randomizationSizeRatio: Float

    // FD
    /// Groups (0-based) followed by a denoising block; nil means after every group (Xie et al.).
    public var denoisingGroups: [Int]?

    // ADP
    /// K, the number of ensemble members (Pang et al.: 3).
    public var ensembleSize: Int
    /// Weight of the ensemble entropy (Pang et al.'s α = 2).
    public var adpAlpha: Float
    /// Weight of the log-determinant (Pang et al.'s β = 0.5).
    public var adpBeta: Float
    /// δ in log det(M̃ᵀM̃ + δ·I) (their code's det_offset = 1e-6).
    public var adpDeterminantOffset: Float

    // Evaluation of randomised defenses (rat, randomization)
    /// EOT gradient samples per PGD step for attacks on this defense (`evaluationAttack`).
    public var eotSamples: Int
    /// Random draws over which clean and adversarial accuracy are averaged at evaluation.
    public var inferenceDraws: Int

    public init(kind: Kind, alpha: Float = 0.5, beta: Float = 1, attentionGroups: [Int]? = nil, attentionNorm: Float = 2,
                attentionExponent: Float = 2, attack: PGDConfiguration = PGDConfiguration(epsilon: 0.1, stepSize: 0.01, iterations: 10),
                cleanLossWeight: Float = 0, detachClean: Bool = false,
                inputGradientWeight: Float = Defaults.inputGradientWeight, finiteDifferenceStep: Float = Defaults.finiteDifferenceStep,
                noiseDistribution: NoiseDistribution = Defaults.noiseDistribution, noiseScale: Float = Defaults.noiseScale,
                randomizationSizeRatio: Float = Defaults.randomizationSizeRatio, denoisingGroups: [Int]? = nil,
                ensembleSize: Int = Defaults.ensembleSize, adpAlpha: Float = Defaults.adpAlpha, adpBeta: Float = Defaults.adpBeta,
                adpDeterminantOffset: Float = Defaults.adpDeterminantOffset,
                eotSamples: Int = Defaults.eotSamples, inferenceDraws: Int = Defaults.inferenceDraws) {
        precondition(inputGradientWeight >= 0 && finiteDifferenceStep > 0 && noiseScale >= 0 && randomizationSizeRatio >= 1
                     && ensembleSize >= 1 && adpDeterminantOffset >= 0 && eotSamples >= 1 && inferenceDraws >= 1,
                     "invalid defense configuration")
        self.kind = kind
        self.alpha = kind == .alp || kind == .atalp ? alpha : 0
        self.beta = kind == .at || kind == .atalp ? beta : 0
        self.attentionGroups = attentionGroups; self.attentionNorm = attentionNorm; self.attentionExponent = attentionExponent
        self.attack = attack; self.cleanLossWeight = cleanLossWeight; self.detachClean = detachClean
        self.inputGradientWeight = inputGradientWeight; self.finiteDifferenceStep = finiteDifferenceStep
        self.noiseDistribution = noiseDistribution; self.noiseScale = noiseScale
        self.randomizationSizeRatio = randomizationSizeRatio; self.denoisingGroups = denoisingGroups
        self.ensembleSize = ensembleSize; self.adpAlpha = adpAlpha; self.adpBeta = adpBeta
        self.adpDeterminantOffset = adpDeterminantOffset
        self.eotSamples = eotSamples; self.inferenceDraws = inferenceDraws
    }

    /// The defaults of the baselines' parameters, with their sources in docs/defenses.md.
    public enum Defaults {
        public static let inputGradientWeight: Float = 0.1
        public static let finiteDifferenceStep: Float = 0.01
        public static let noiseDistribution = NoiseDistribution.gaussian
        public static let noiseScale: Float = 0.25
        public static let randomizationSizeRatio: Float = 331.0 / 299.0
        public static let ensembleSize = 3
        public static let adpAlpha: Float = 2
        public static let adpBeta: Float = 0.5
        public static let adpDeterminantOffset: Float = 1e-6
        public static let eotSamples = 10
        public static let inferenceDraws = 10
    }

    /// Whether training makes adversarial examples at all.
    public var isAdversarial: Bool {
        switch kind {
        case .pat, .alp, .at, .atalp, .rat, .fd: true
        case .none, .igr, .randomization, .adp: false
        }
    }
    /// Whether a clean forward pass is needed besides the adversarial one.
    public var needsCleanPass: Bool { !isAdversarial || alpha != 0 || beta != 0 || cleanLossWeight != 0 }
    /// Whether the defended model draws random numbers at inference (attack with EOT, average over draws).
    public var isRandomized: Bool { kind == .rat || kind == .randomization }

    /// The defense as the paper's Table 1 names it: "No defense", "PAT", "AT+ALP", "Randomization".
    public var displayName: String {
        switch kind {
        case .none: "No defense"
        case .atalp: "AT+ALP"
        case .randomization: "Randomization"
        default: kind.rawValue.uppercased()
        }
    }

    /// The attack to evaluate this defense with: `attack` itself, with `eotSamples` gradient samples
    /// per step for randomised defenses (expectation over transformation, Athalye et al. 2018).
    public func evaluationAttack(_ attack: PGDConfiguration) -> PGDConfiguration {
        guard isRandomized else { return attack }
        var a = attack
        a.gradientSamples = max(a.gradientSamples, eotSamples)
        return a
    }

    /// The ResNet configuration of the defended network (fd adds denoising blocks; others unchanged).
    public func networkArchitecture(_ architecture: ResNetConfiguration) -> ResNetConfiguration {
        guard kind == .fd else { return architecture }
        var a = architecture
        a.denoisingGroups = denoisingGroups ?? Array(architecture.widths.indices)
        return a
    }

    /// The model this defense trains and is evaluated as, initialised from `seed`:
    /// a plain ResNet (none, pat, alp, at, atalp, igr), a ResNet with denoising blocks (fd), an
    /// `Ensemble` of `ensembleSize` ResNets named `members.<k>.…` (adp), or a randomising wrapper
    /// around a ResNet (rat: `NoiseInjection`; randomization: `RandomResizePadding`), whose random
    /// stream is seeded from `seed` too (and reseeded by the trainer every step).
    /// `Checkpoint.save`/`load` work on all of them: wrappers add no tensors and keep the base's names.
    public func makeModel(architecture: ResNetConfiguration, seed: UInt64) -> any Classifier {
        var rng = SeededRandom(seed: seed)
        var seeds = SeededRandom.derived(seed: seed, stream: 0x5EED)
        let noiseSeed = seeds.next()
        switch kind {
        case .adp:
            return Ensemble(architecture, members: ensembleSize, seed: seed)
        case .rat:
            return NoiseInjection(base: ResNet(architecture, rng: &rng), distribution: noiseDistribution, scale: noiseScale, seed: noiseSeed)
        case .randomization:
            return RandomResizePadding(base: ResNet(architecture, rng: &rng), sizeRatio: randomizationSizeRatio, seed: noiseSeed)
        case .none, .pat, .alp, .at, .atalp, .igr, .fd:
            return ResNet(networkArchitecture(architecture), rng: &rng)
        }
    }
}

extension DefenseConfiguration: Codable {
    private enum CodingKeys: String, CodingKey {
        case kind, alpha, beta, attentionGroups, attentionNorm, attentionExponent, attack, cleanLossWeight, detachClean
        case inputGradientWeight, finiteDifferenceStep, noiseDistribution, noiseScale, randomizationSizeRatio, denoisingGroups
        case ensembleSize, adpAlpha, adpBeta, adpDeterminantOffset, eotSamples, inferenceDraws
    }

    /// Every field but `kind` may be absent (a pipeline file names only what it changes); absent
    /// fields take the initialiser's defaults, and the kind's rules apply (PAT's α and β are 0).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DefenseConfiguration(kind: .none)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        let kind = try c.decode(Kind.self, forKey: .kind)
        let ensembleSize = try value(.ensembleSize, d.ensembleSize), eot = try value(.eotSamples, d.eotSamples)
        let draws = try value(.inferenceDraws, d.inferenceDraws), h = try value(.finiteDifferenceStep, d.finiteDifferenceStep)
        let ratio = try value(.randomizationSizeRatio, d.randomizationSizeRatio)
        guard ensembleSize >= 1, eot >= 1, draws >= 1, h > 0, ratio >= 1 else {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath,
                debugDescription: "ensembleSize, eotSamples and inferenceDraws must be ≥ 1, finiteDifferenceStep > 0, randomizationSizeRatio ≥ 1"))
        }
        self.init(kind: kind, alpha: try value(.alpha, 0.5), beta: try value(.beta, 1),
                  attentionGroups: try c.decodeIfPresent([Int].self, forKey: .attentionGroups),
                  attentionNorm: try value(.attentionNorm, d.attentionNorm), attentionExponent: try value(.attentionExponent, d.attentionExponent),
                  attack: try value(.attack, d.attack), cleanLossWeight: try value(.cleanLossWeight, d.cleanLossWeight),
                  detachClean: try value(.detachClean, d.detachClean),
                  inputGradientWeight: max(0, try value(.inputGradientWeight, d.inputGradientWeight)), finiteDifferenceStep: h,
                  noiseDistribution: try value(.noiseDistribution, d.noiseDistribution), noiseScale: max(0, try value(.noiseScale, d.noiseScale)),
                  randomizationSizeRatio: ratio, denoisingGroups: try c.decodeIfPresent([Int].self, forKey: .denoisingGroups),
                  ensembleSize: ensembleSize, adpAlpha: try value(.adpAlpha, d.adpAlpha), adpBeta: try value(.adpBeta, d.adpBeta),
                  adpDeterminantOffset: max(0, try value(.adpDeterminantOffset, d.adpDeterminantOffset)),
                  eotSamples: eot, inferenceDraws: draws)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(alpha, forKey: .alpha)
        try c.encode(beta, forKey: .beta)
        try c.encodeIfPresent(attentionGroups, forKey: .attentionGroups)
        try c.encode(attentionNorm, forKey: .attentionNorm)
        try c.encode(attentionExponent, forKey: .attentionExponent)
        try c.encode(attack, forKey: .attack)
        try c.encode(cleanLossWeight, forKey: .cleanLossWeight)
        try c.encode(detachClean, forKey: .detachClean)
        switch kind {
        case .none, .pat, .alp, .at, .atalp:
            break
        case .igr:
            try c.encode(inputGradientWeight, forKey: .inputGradientWeight)
            try c.encode(finiteDifferenceStep, forKey: .finiteDifferenceStep)
        case .rat:
            try c.encode(noiseDistribution, forKey: .noiseDistribution)
            try c.encode(noiseScale, forKey: .noiseScale)
        case .randomization:
            try c.encode(randomizationSizeRatio, forKey: .randomizationSizeRatio)
        case .fd:
            try c.encodeIfPresent(denoisingGroups, forKey: .denoisingGroups)
        case .adp:
            try c.encode(ensembleSize, forKey: .ensembleSize)
            try c.encode(adpAlpha, forKey: .adpAlpha)
            try c.encode(adpBeta, forKey: .adpBeta)
            try c.encode(adpDeterminantOffset, forKey: .adpDeterminantOffset)
        }
        if isRandomized {
            try c.encode(eotSamples, forKey: .eotSamples)
            try c.encode(inferenceDraws, forKey: .inferenceDraws)
        }
    }
}
