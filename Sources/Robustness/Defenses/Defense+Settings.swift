import NN
import Store

/// The one codec of a defense: `init(from:)` reads a pipeline file's `defense:` mapping (or a
/// checkpoint's `defense` attribute) and `parameters` writes the same keys, which are what the train
/// stage's key and the checkpoint hold. Each kind reads exactly its own keys, so a key another kind
/// uses is an "unknown key" error naming the file and line:
///
/// | kind | keys (defaults in the payload types) |
/// |---|---|
/// | none | — |
/// | pat, alp, at, atalp | `attack` (`method`: pgd, fgsm or free, and the method's keys: PGD's epsilon, step_size, iterations, random_start, restarts; fgsm's epsilon, step_size, random_start; free's epsilon, step_size, replays — `TrainingAttackMethod.decode`), `alpha` (alp, atalp), `beta` (at, atalp), `clean_loss_weight`, `detach_clean`; at and atalp: `attention_groups`, `attention_norm`, `attention_exponent` |
/// | igr | `input_gradient_weight`, `finite_difference_step` |
/// | rat | the PAT keys, `noise_distribution`, `noise_scale`, `eot_samples`, `inference_draws` |
/// | randomization | `randomization_size_ratio`, `eot_samples`, `inference_draws` |
/// | fd | the PAT keys, `denoising_groups` |
/// | adp | `ensemble_size`, `adp_alpha`, `adp_beta`, `adp_determinant_offset` |
/// | trades | `attack` (as above; PGD ascends the KL), `trades_beta` (the KL weight β, default 6) |
/// | mart | `attack` (as above), `mart_lambda` (the weighted-KL weight λ, default 6) |
///
/// Encoding rules that keep stage keys of earlier versions: numbers as the Double the type holds
/// (the attack's Float ε as `Double(ε)`, as always); the adversarial objective writes α and β even
/// when 0 (PAT; a PAT objective reads them only to check that they are 0); attention settings only
/// when β ≠ 0; `adp_determinant_offset` only when not its default; the attack's `method` (and
/// `replays`) only when not pgd.
extension Defense {
    public init(from f: any SettingsReader) throws {
        let kind = try f.required("kind") { try f.choice($0, Kind.self) }
        switch kind {
        case .none:
            self = .none
        case .pat, .alp, .at, .atalp:
            self = .adversarial(try AdversarialObjective(preset: kind, from: f))
        case .igr:
            typealias D = InputGradientRegularization.Defaults
            self = .igr(InputGradientRegularization(weight: try f.double("input_gradient_weight") ?? D.weight,
                                                    finiteDifferenceStep: try f.double("finite_difference_step") ?? D.finiteDifferenceStep))
        case .rat:
            typealias D = RandomizedAdversarialTraining.Defaults
            self = .rat(RandomizedAdversarialTraining(training: try AdversarialObjective(preset: .pat, from: f),
                                                      noiseDistribution: try f.choice("noise_distribution") ?? D.noiseDistribution,
                                                      noiseScale: try f.double("noise_scale") ?? D.noiseScale,
                                                      inference: try RandomizedInference(from: f)))
        case .randomization:
            self = .randomization(InputRandomization(sizeRatio: try f.double("randomization_size_ratio") ?? InputRandomization.Defaults.sizeRatio,
                                                     inference: try RandomizedInference(from: f)))
        case .fd:
            self = .fd(FeatureDenoisingTraining(training: try AdversarialObjective(preset: .pat, from: f),
                                                denoisingGroups: try f.ints("denoising_groups")))
        case .adp:
            typealias D = AdaptiveDiversityPromoting.Defaults
            self = .adp(AdaptiveDiversityPromoting(ensembleSize: try f.int("ensemble_size") ?? D.ensembleSize,
                                                   alpha: try f.double("adp_alpha") ?? D.alpha, beta: try f.double("adp_beta") ?? D.beta,
                                                   determinantOffset: try f.double("adp_determinant_offset") ?? D.determinantOffset))
        case .trades:
            let (attack, method) = try Self.trainingAttack(from: f)
            self = .trades(TRADESObjective(attack: attack, method: method, beta: try f.double("trades_beta") ?? TRADESObjective.Defaults.beta))
        case .mart:
            let (attack, method) = try Self.trainingAttack(from: f)
            self = .mart(MARTObjective(attack: attack, method: method, lambda: try f.double("mart_lambda") ?? MARTObjective.Defaults.lambda))
        }
        if let (key, message) = problem { throw f.error(key, message) }
        try f.finish()
    }

    /// The training attack under `attack` (PGD-10 at the default ε when absent) and its method.
    static func trainingAttack(from f: any SettingsReader) throws -> (PGDConfiguration, TrainingAttackMethod) {
        try f.nested("attack").map { try TrainingAttackMethod.decode(from: $0) } ?? (AdversarialObjective.defaultAttack, .pgd)
    }

    /// The defense's settings as a pipeline file writes them (`kind` and the kind's keys).
    public var parameters: ParameterValue {
        var p: [String: ParameterValue] = ["kind": .string(kind.rawValue)]
        if let o = adversarialTraining { p.merge(o.parameters) { $1 } }
        if let i = randomizedInference {
            p["eot_samples"] = .int(Int64(i.eotSamples)); p["inference_draws"] = .int(Int64(i.inferenceDraws))
        }
        switch self {
        case .none, .adversarial:
            break
        case .igr(let igr):
            p["input_gradient_weight"] = .double(igr.weight); p["finite_difference_step"] = .double(igr.finiteDifferenceStep)
        case .rat(let rat):
            p["noise_distribution"] = .string(rat.noiseDistribution.rawValue); p["noise_scale"] = .double(rat.noiseScale)
        case .randomization(let r):
            p["randomization_size_ratio"] = .double(r.sizeRatio)
        case .fd(let fd):
            p["denoising_groups"] = fd.denoisingGroups.map { .array($0.map { .int(Int64($0)) }) } ?? .null
        case .adp(let adp):
            p["ensemble_size"] = .int(Int64(adp.ensembleSize)); p["adp_alpha"] = .double(adp.alpha); p["adp_beta"] = .double(adp.beta)
            if adp.determinantOffset != AdaptiveDiversityPromoting.Defaults.determinantOffset {
                p["adp_determinant_offset"] = .double(adp.determinantOffset)
            }
        case .trades(let t):
            p["attack"] = t.method.encode(t.attack); p["trades_beta"] = .double(t.beta)
        case .mart(let m):
            p["attack"] = m.method.encode(m.attack); p["mart_lambda"] = .double(m.lambda)
        }
        return .object(p)
    }
}

extension AdversarialObjective {
    /// Reads a preset's keys from the defense's mapping (the training attack under `attack`).
    init(preset: Defense.Kind, from f: any SettingsReader) throws {
        let (attack, method) = try Defense.trainingAttack(from: f)
        let pairsLogits = preset == .alp || preset == .atalp, pairsAttention = preset == .at || preset == .atalp
        // A weight of a term the preset lacks may be written (as 0: the encoding of earlier versions), never set.
        func weight(_ key: String, present: Bool, _ fallback: Double) throws -> Double {
            let names: [Defense.Kind: String] = [.pat: "PAT", .alp: "ALP", .at: "AT", .atalp: "AT+ALP"]
            guard let v = try f.double(key) else { return present ? fallback : 0 }
            if present && v <= 0 {
                throw f.error(key, "must be > 0 for \(names[preset]!) (\(key) = 0 leaves out its term: use another kind)")
            }
            if !present && v != 0 {
                throw f.error(key, "\(names[preset]!) has no \(key == "alpha" ? "logit-pairing" : "attention") term "
                              + "(use kind \(key == "alpha" ? "alp or atalp" : "at or atalp"))")
            }
            return v
        }
        self.init(preset: preset, attack: attack, alpha: try weight("alpha", present: pairsLogits, Defaults.alpha),
                  beta: try weight("beta", present: pairsAttention, Defaults.beta),
                  attentionGroups: pairsAttention ? try f.ints("attention_groups") : nil,
                  attentionNorm: pairsAttention ? try f.double("attention_norm") ?? Defaults.attentionNorm : Defaults.attentionNorm,
                  attentionExponent: pairsAttention ? try f.double("attention_exponent") ?? Defaults.attentionExponent : Defaults.attentionExponent,
                  cleanLossWeight: try f.double("clean_loss_weight") ?? Defaults.cleanLossWeight,
                  detachClean: try f.bool("detach_clean") ?? Defaults.detachClean, method: method)
    }

    var parameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = ["attack": method.encode(attack), "alpha": .double(alpha), "beta": .double(beta),
                                           "clean_loss_weight": .double(cleanLossWeight), "detach_clean": .bool(detachClean)]
        if beta != 0 {
            p["attention_norm"] = .double(attentionNorm); p["attention_exponent"] = .double(attentionExponent)
            p["attention_groups"] = attentionGroups.map { .array($0.map { .int(Int64($0)) }) } ?? .null
        }
        return p
    }
}

extension RandomizedInference {
    init(from f: any SettingsReader) throws {
        self.init(eotSamples: try f.int("eot_samples") ?? Defaults.eotSamples, inferenceDraws: try f.int("inference_draws") ?? Defaults.inferenceDraws)
    }
}
