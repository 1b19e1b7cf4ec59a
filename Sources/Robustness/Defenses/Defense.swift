import NN
import Tensors

/// A defense of the paper's Table 1: one case per kind, each carrying exactly the settings it reads.
/// The paper's own family (equation 2) is one adversarial objective, of which no defense's neighbours
/// PAT, ALP, AT and AT+ALP are presets (`AdversarialObjective`); the other baselines have their own
/// payloads (docs/defenses.md has each one's source, defaults and the choices made):
///
/// - `igr`: CE + λ·‖∇ₓ CE‖² (Ross & Doshi-Velez 2017) by a finite difference (Finlay & Oberman 2019).
/// - `rat`: PAT through input-noise injection, the noise kept at inference (Araujo et al. 2019).
/// - `randomization`: plain training; random resize and zero padding at inference (Xie et al. 2017).
/// - `fd`: PAT of a ResNet with feature-denoising blocks after chosen groups (Xie et al. 2018).
/// - `adp`: an ensemble of K ResNets trained with Σ CE − α·H − β·log det (Pang et al. 2019).
/// - `trades`: CE(f(x), y) + β·KL(f(x) ‖ f(x′)), x′ maximising the KL (Zhang et al. 2019).
/// - `mart`: boosted CE on x′ + λ·KL(f(x) ‖ f(x′))·(1 − p_y(x)) (Wang et al. 2020).
///
/// Every kind that trains on adversarial examples makes them with a training attack and a
/// `TrainingAttackMethod` (PGD, FGSM-RS or free training); `trainingAttack` gives both.
///
/// Each payload states its defaults once and checks its values once (its initialiser); the settings
/// codec (`Defense+Settings.swift`) and the checkpoint format (`DefendedCheckpoint`) read and write
/// these values and nothing else.
///
///     let defense = Defense.adversarial(.atalp(attack: PGDConfiguration(epsilon: 0.1, stepSize: nil, iterations: 10)))
///     let model = defense.makeModel(architecture: .resnet20(), seed: 0)
///     Trainer(model: model, configuration: training, defense: defense).run(on: data)
public enum Defense: Hashable, Sendable {
    case none
    case adversarial(AdversarialObjective)
    case igr(InputGradientRegularization)
    case rat(RandomizedAdversarialTraining)
    case randomization(InputRandomization)
    case fd(FeatureDenoisingTraining)
    case adp(AdaptiveDiversityPromoting)
    case trades(TRADESObjective)
    case mart(MARTObjective)

    /// The kinds as a pipeline file and the command line name them.
    public enum Kind: String, Sendable, CaseIterable {
        case none, pat, alp, at, atalp
        case igr, rat, randomization, fd, adp
        case trades, mart
    }

    public var kind: Kind {
        switch self {
        case .none: .none
        case .adversarial(let o): o.preset
        case .igr: .igr
        case .rat: .rat
        case .randomization: .randomization
        case .fd: .fd
        case .adp: .adp
        case .trades: .trades
        case .mart: .mart
        }
    }

    /// The defense with every setting at its default (`attack`: the training attack of the adversarial kinds).
    public static func defaults(_ kind: Kind, attack: PGDConfiguration = AdversarialObjective.defaultAttack) -> Defense {
        switch kind {
        case .none: .none
        case .pat, .alp, .at, .atalp: .adversarial(AdversarialObjective(preset: kind, attack: attack))
        case .igr: .igr(InputGradientRegularization())
        case .rat: .rat(RandomizedAdversarialTraining(training: AdversarialObjective(preset: .pat, attack: attack)))
        case .randomization: .randomization(InputRandomization())
        case .fd: .fd(FeatureDenoisingTraining(training: AdversarialObjective(preset: .pat, attack: attack)))
        case .adp: .adp(AdaptiveDiversityPromoting())
        case .trades: .trades(TRADESObjective(attack: attack))
        case .mart: .mart(MARTObjective(attack: attack))
        }
    }

    /// The defense as the paper's Table 1 names it: "No defense", "PAT", "AT+ALP", "Randomization".
    public var displayName: String {
        switch kind {
        case .none: "No defense"
        case .atalp: "AT+ALP"
        case .randomization: "Randomization"
        case .trades: "TRADES"
        case .mart: "MART"
        default: kind.rawValue.uppercased()
        }
    }

    /// The equation-2 objective of training, for the kinds built on it (PAT…AT+ALP, RAT, FD).
    public var adversarialTraining: AdversarialObjective? {
        switch self {
        case .adversarial(let o): o
        case .rat(let r): r.training
        case .fd(let f): f.training
        case .none, .igr, .randomization, .adp, .trades, .mart: nil
        }
    }

    /// The training attack and its method, for every kind that trains on adversarial examples
    /// (PAT…AT+ALP, RAT, FD, TRADES, MART); nil for the others.
    public var trainingAttack: (attack: PGDConfiguration, method: TrainingAttackMethod)? {
        switch self {
        case .trades(let t): (t.attack, t.method)
        case .mart(let m): (m.attack, m.method)
        default: adversarialTraining.map { ($0.attack, $0.method) }
        }
    }

    /// What is wrong with the settings, if anything: the key and why. Each payload checks itself here,
    /// once; the decoder turns a problem into an error naming the file, line and key, and `Trainer`
    /// refuses a defense that has one.
    public var problem: SettingProblem? {
        switch self {
        case .none: nil
        case .adversarial(let o): o.problem
        case .igr(let p): p.problem
        case .rat(let p): p.problem
        case .randomization(let p): p.problem
        case .fd(let p): p.problem
        case .adp(let p): p.problem
        case .trades(let p): p.problem
        case .mart(let p): p.problem
        }
    }

    /// Whether training makes adversarial examples at all.
    public var isAdversarial: Bool { trainingAttack != nil }

    /// How a randomised defense is attacked and scored (nil: the model is deterministic).
    public var randomizedInference: RandomizedInference? {
        switch self {
        case .rat(let r): r.inference
        case .randomization(let r): r.inference
        default: nil
        }
    }

    /// Whether the defended model draws random numbers at inference (attack with EOT, average over draws).
    public var isRandomized: Bool { randomizedInference != nil }

    /// Random draws at inference that accuracy is the mean of (1: a deterministic model).
    public var inferenceDraws: Int { randomizedInference?.inferenceDraws ?? 1 }

    /// The attack to evaluate this defense with: `attack` itself, with `eotSamples` gradient samples
    /// per step for randomised defenses (expectation over transformation, Athalye et al. 2018).
    public func evaluationAttack(_ attack: PGDConfiguration) -> PGDConfiguration {
        guard let inference = randomizedInference else { return attack }
        var a = attack
        a.gradientSamples = max(a.gradientSamples, inference.eotSamples)
        return a
    }

    /// The ResNet configuration of the defended network (fd adds denoising blocks; others unchanged).
    public func networkArchitecture(_ architecture: ResNetConfiguration) -> ResNetConfiguration {
        guard case .fd(let fd) = self else { return architecture }
        var a = architecture
        a.denoisingGroups = fd.denoisingGroups ?? Array(architecture.widths.indices)
        return a
    }

    /// The model this defense trains and is evaluated as, initialised from `seed`: a plain ResNet
    /// (none, PAT…AT+ALP, igr), a ResNet with denoising blocks (fd), an `Ensemble` of K ResNets named
    /// `members.<k>.…` (adp), or a randomising wrapper around a ResNet (rat: `NoiseInjection`;
    /// randomization: `RandomResizePadding`), whose random stream is seeded from `seed` too (and
    /// reseeded by the trainer every step). Wrappers add no tensors and keep the base's names.
    public func makeModel(architecture: ResNetConfiguration, seed: UInt64) -> any Classifier {
        var rng = SeededRandom(seed: seed)
        var seeds = SeededRandom.derived(seed: seed, stream: 0x5EED)
        let noiseSeed = seeds.next()
        switch self {
        case .adp(let adp):
            return Ensemble(architecture, members: adp.ensembleSize, seed: seed)
        case .rat(let rat):
            return NoiseInjection(base: ResNet(architecture, rng: &rng), distribution: rat.noiseDistribution, scale: Float(rat.noiseScale),
                                  seed: noiseSeed)
        case .randomization(let r):
            return RandomResizePadding(base: ResNet(architecture, rng: &rng), sizeRatio: Float(r.sizeRatio), seed: noiseSeed)
        case .none, .adversarial, .igr, .fd, .trades, .mart:
            return ResNet(networkArchitecture(architecture), rng: &rng)
        }
    }
}

/// A setting that is out of range: its key and what it must be.
public typealias SettingProblem = (key: String, message: String)

/// The paper's equation 2, of which PAT, ALP, AT and AT+ALP are presets:
///
///     L = w_clean·CE(f(x), y) + (1 − w_clean)·CE(f(x'), y) + α·L_ALP + β·L_AT,   x' = PGD(x)
///
/// PAT has α = β = 0 (Madry et al. 2018), ALP β = 0 (Kannan et al. 2018), AT α = 0, AT+ALP both.
/// The preset is what the weights make it: a term is present exactly when its weight is non-zero.
public struct AdversarialObjective: Hashable, Sendable {
    /// The training attack of the adversarial kinds when none is given: PGD-10 at the default ε, the step by the one rule.
    public static let defaultAttack = PGDConfiguration(epsilon: PGDConfiguration.Defaults.epsilon, stepSize: nil,
                                                       iterations: PGDConfiguration.Defaults.iterations)
    public enum Defaults {
        /// α of ALP: Kannan et al. 2018 and the AT+ALP paper pair logits with weight 0.5.
        public static let alpha = 0.5
        /// β of AT: the AT+ALP paper's β = 1.
        public static let beta = 1.0
        /// p of the attention difference ‖·‖_p (the paper's p = 2).
        public static let attentionNorm = 2.0
        /// The exponent of F(A) = mean_c |A_c|^exponent (2: Zagoruyko & Komodakis and the paper).
        public static let attentionExponent = 2.0
        public static let cleanLossWeight = 0.0
        public static let detachClean = false
    }

    /// The attack that makes x' during training.
    public var attack: PGDConfiguration
    /// How the attack is run: PGD (its iterations), FGSM-RS or free training (`TrainingAttackMethod`).
    public var method: TrainingAttackMethod
    /// Weight of the logit-pairing term (`logitPairingLoss`); 0 for PAT and AT.
    public var alpha: Double
    /// Weight of the attention term (`attentionPairingLoss`); 0 for PAT and ALP.
    public var beta: Double
    /// Indices of the groups whose attention maps are paired; nil means every group.
    public var attentionGroups: [Int]?
    public var attentionNorm: Double
    public var attentionExponent: Double
    /// Share of the cross-entropy taken on clean examples (0: adversarial only, as equation 2).
    public var cleanLossWeight: Double
    /// Treat the clean branch as a fixed target in the pairing terms (no gradient through f(x)).
    public var detachClean: Bool

    /// A preset with its weights (α for ALP and AT+ALP, β for AT and AT+ALP; ignored where the preset has no such term).
    public init(preset: Defense.Kind, attack: PGDConfiguration = defaultAttack, alpha: Double = Defaults.alpha, beta: Double = Defaults.beta,
                attentionGroups: [Int]? = nil, attentionNorm: Double = Defaults.attentionNorm,
                attentionExponent: Double = Defaults.attentionExponent, cleanLossWeight: Double = Defaults.cleanLossWeight,
                detachClean: Bool = Defaults.detachClean, method: TrainingAttackMethod = .pgd) {
        precondition([.pat, .alp, .at, .atalp].contains(preset), "\(preset) is not a preset of the adversarial objective")
        self.attack = attack; self.method = method
        self.alpha = preset == .alp || preset == .atalp ? alpha : 0
        self.beta = preset == .at || preset == .atalp ? beta : 0
        self.attentionGroups = attentionGroups; self.attentionNorm = attentionNorm; self.attentionExponent = attentionExponent
        self.cleanLossWeight = cleanLossWeight; self.detachClean = detachClean
    }

    public static func pat(attack: PGDConfiguration = defaultAttack) -> Self { Self(preset: .pat, attack: attack) }
    public static func alp(alpha: Double = Defaults.alpha, attack: PGDConfiguration = defaultAttack) -> Self {
        Self(preset: .alp, attack: attack, alpha: alpha)
    }
    public static func at(beta: Double = Defaults.beta, attack: PGDConfiguration = defaultAttack) -> Self {
        Self(preset: .at, attack: attack, beta: beta)
    }
    public static func atalp(alpha: Double = Defaults.alpha, beta: Double = Defaults.beta, attack: PGDConfiguration = defaultAttack) -> Self {
        Self(preset: .atalp, attack: attack, alpha: alpha, beta: beta)
    }

    /// PAT, ALP, AT or AT+ALP: which terms are present.
    public var preset: Defense.Kind {
        switch (alpha != 0, beta != 0) {
        case (false, false): .pat
        case (true, false): .alp
        case (false, true): .at
        case (true, true): .atalp
        }
    }

    public var problem: SettingProblem? {
        if alpha < 0 { return ("alpha", "must be ≥ 0") }
        if beta < 0 { return ("beta", "must be ≥ 0") }
        if !(0...1).contains(cleanLossWeight) { return ("clean_loss_weight", "must lie in [0, 1]") }
        if attentionNorm <= 0 { return ("attention_norm", "must be > 0") }
        if let g = attentionGroups, g.isEmpty || g.contains(where: { $0 < 0 }) { return ("attention_groups", "must list group indices ≥ 0") }
        return nil
    }

    /// Whether a clean forward pass is needed besides the adversarial one.
    public var needsCleanPass: Bool { alpha != 0 || beta != 0 || cleanLossWeight != 0 }
}

/// IGR's settings: L = mean CE + λ·mean over the batch of ‖∇ₓ CEᵢ‖² (pixel units, [0, 1] images).
public struct InputGradientRegularization: Hashable, Sendable {
    public enum Defaults {
        /// λ (docs/defenses.md: Ross & Doshi-Velez's range scaled to [0, 1] images).
        public static let weight = 0.1
        /// h of the finite difference (CE(x + h·d) − CE(x))/h ≈ ‖∇ₓ CE‖ (Finlay & Oberman 2019).
        public static let finiteDifferenceStep = 0.01
    }
    public var weight: Double
    public var finiteDifferenceStep: Double

    public init(weight: Double = Defaults.weight, finiteDifferenceStep: Double = Defaults.finiteDifferenceStep) {
        self.weight = weight; self.finiteDifferenceStep = finiteDifferenceStep
    }
    public var problem: SettingProblem? {
        weight < 0 ? ("input_gradient_weight", "must be ≥ 0") : finiteDifferenceStep <= 0 ? ("finite_difference_step", "must be > 0") : nil
    }
}

/// How a randomised defense (RAT, Randomization) is attacked and scored.
public struct RandomizedInference: Hashable, Sendable {
    public enum Defaults {
        /// EOT gradient samples per PGD step (Athalye et al. 2018 use more; 10 keeps CPU runs short).
        public static let eotSamples = 10
        /// Random draws at inference whose mean accuracy is reported.
        public static let inferenceDraws = 10
    }
    public var eotSamples: Int
    public var inferenceDraws: Int
    public init(eotSamples: Int = Defaults.eotSamples, inferenceDraws: Int = Defaults.inferenceDraws) {
        self.eotSamples = eotSamples; self.inferenceDraws = inferenceDraws
    }
    public var problem: SettingProblem? {
        eotSamples < 1 ? ("eot_samples", "must be at least 1") : inferenceDraws < 1 ? ("inference_draws", "must be at least 1") : nil
    }
}

/// RAT: PAT of a network whose input receives noise, at training and at inference (Araujo et al. 2019).
public struct RandomizedAdversarialTraining: Hashable, Sendable {
    public enum Defaults {
        public static let noiseDistribution = NoiseDistribution.gaussian
        /// σ (gaussian), b (laplace) or the half-width (uniform), pixel units (docs/defenses.md).
        public static let noiseScale = 0.25
    }
    /// The adversarial objective (the PAT preset).
    public var training: AdversarialObjective
    public var noiseDistribution: NoiseDistribution
    public var noiseScale: Double
    public var inference: RandomizedInference

    public init(training: AdversarialObjective = .pat(), noiseDistribution: NoiseDistribution = Defaults.noiseDistribution,
                noiseScale: Double = Defaults.noiseScale, inference: RandomizedInference = RandomizedInference()) {
        self.training = training; self.noiseDistribution = noiseDistribution; self.noiseScale = noiseScale; self.inference = inference
    }
    public var problem: SettingProblem? {
        training.preset != .pat ? ("kind", "RAT trains with the PAT objective (α = β = 0)")
            : noiseScale < 0 ? ("noise_scale", "must be ≥ 0") : training.problem ?? inference.problem
    }
}

/// Randomization: random resize and zero padding at inference (Xie et al. 2017); plain training.
public struct InputRandomization: Hashable, Sendable {
    public enum Defaults {
        /// Padded side over input side (Xie et al.: 331/299).
        public static let sizeRatio = 331.0 / 299.0
    }
    public var sizeRatio: Double
    public var inference: RandomizedInference
    public init(sizeRatio: Double = Defaults.sizeRatio, inference: RandomizedInference = RandomizedInference()) {
        self.sizeRatio = sizeRatio; self.inference = inference
    }
    public var problem: SettingProblem? { sizeRatio < 1 ? ("randomization_size_ratio", "must be ≥ 1") : inference.problem }
}

/// FD: PAT of a ResNet with non-local denoising blocks after chosen groups (Xie et al. 2018).
public struct FeatureDenoisingTraining: Hashable, Sendable {
    /// The adversarial objective (the PAT preset).
    public var training: AdversarialObjective
    /// Groups (0-based) followed by a denoising block; nil means after every group (Xie et al.).
    public var denoisingGroups: [Int]?
    public init(training: AdversarialObjective = .pat(), denoisingGroups: [Int]? = nil) {
        self.training = training; self.denoisingGroups = denoisingGroups
    }
    public var problem: SettingProblem? {
        if training.preset != .pat { return ("kind", "FD trains with the PAT objective (α = β = 0)") }
        if let g = denoisingGroups, g.isEmpty || g.contains(where: { $0 < 0 }) { return ("denoising_groups", "must list group indices ≥ 0") }
        return training.problem
    }
}

/// ADP: an ensemble trained with Σ_k CE(z_k, y) − α·H(ensemble) − β·log det(M̃ᵀM̃ + δ·I) (Pang et al. 2019).
public struct AdaptiveDiversityPromoting: Hashable, Sendable {
    public enum Defaults {
        /// K (Pang et al.: 3).
        public static let ensembleSize = 3
        /// α, the weight of the ensemble entropy (Pang et al.: 2).
        public static let alpha = 2.0
        /// β, the weight of the log-determinant (Pang et al.: 0.5).
        public static let beta = 0.5
        /// δ (their code's det_offset = 1e-6).
        public static let determinantOffset = 1e-6
    }
    public var ensembleSize: Int
    public var alpha: Double
    public var beta: Double
    public var determinantOffset: Double
    public init(ensembleSize: Int = Defaults.ensembleSize, alpha: Double = Defaults.alpha, beta: Double = Defaults.beta,
                determinantOffset: Double = Defaults.determinantOffset) {
        self.ensembleSize = ensembleSize; self.alpha = alpha; self.beta = beta; self.determinantOffset = determinantOffset
    }
    public var problem: SettingProblem? {
        ensembleSize < 1 ? ("ensemble_size", "must be at least 1") : determinantOffset < 0 ? ("adp_determinant_offset", "must be ≥ 0") : nil
    }
}
