import Data
import Foundation
import NN
import Robustness
import Store
import Tensors
import Yams

/// A parsed pipeline file (`pipelines/*.yaml`; the format is in docs/pipeline.md): the data set, the
/// models to train, the attacks, the evaluation, the analyses and the report.
///
///     let pipeline = try PipelineDefinition.load("pipelines/quick.yaml")
///     pipeline.models.map(\.name)     // ["none", "pat", "alp", "at", "atalp"]
public struct PipelineDefinition: Sendable {
    public var name: String
    /// The file it was read from, as given.
    public var file: String
    public var data: DataSpec
    /// The models under evaluation: the rows of Table 1.
    public var models: [ModelSpec]
    /// Models trained only to attack others (black-box sources); never evaluated.
    public var sources: [ModelSpec]
    public var attacks: [AttackSpec]
    public var evaluation: EvaluationSpec
    public var analyses: [AnalysisSpec]
    public var report: ReportSpec

    /// Every model that must be trained, by name: the models, the sources, and gray-box copies
    /// (`<name>#gray`) of the models attacked gray-box.
    public var trainedModels: [ModelSpec] {
        var all = models + sources
        if attacks.contains(where: { $0.threatModels.contains(.grayBox) }) {
            for m in models { all.append(m.grayBoxCopy) }
        }
        return all
    }

    /// Reads and checks a pipeline file. Unknown keys, wrong types and dangling references are
    /// errors naming the file, line and key.
    public static func load(_ path: String) throws -> PipelineDefinition {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw PipelineError(file: path, "cannot read the pipeline file: \((error as NSError).localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> PipelineDefinition {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw PipelineError(file: file, "the file is empty") }
            root = node
        } catch let e as PipelineError {
            throw e
        } catch let e as YamlError {
            throw PipelineError(file: file, line: yamlLine(e), "not valid YAML: \(yamlProblem(e))")
        }
        let top = try YAMLFields(root, file: file, path: "")
        let fallbackName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = try top.string("name") ?? fallbackName
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw top.error("name", "a pipeline name may hold letters, digits, '-', '_' and '.' only")
        }
        let data = try DataSpec(try top.required("data", top.fields))
        let trainingDefaults = try top.fields("training")
        let training = try TrainingSpec(trainingDefaults, over: TrainingSpec())
        let defenseDefaults = try top.fields("defense")
        var models: [ModelSpec] = []
        for (i, n) in (try top.required("models", top.list)).enumerated() {
            models.append(try ModelSpec(try YAMLFields(n, file: file, path: "models[\(i)]"), training: training,
                                        defenseDefaults: defenseDefaults))
        }
        var sources: [ModelSpec] = []
        for (i, n) in (try top.list("sources") ?? []).enumerated() {
            sources.append(try ModelSpec(try YAMLFields(n, file: file, path: "sources[\(i)]"), training: training,
                                         defenseDefaults: defenseDefaults))
        }
        try defenseDefaults?.finish()
        var attacks: [AttackSpec] = []
        for (i, n) in (try top.list("attacks") ?? []).enumerated() {
            attacks.append(try AttackSpec(try YAMLFields(n, file: file, path: "attacks[\(i)]")))
        }
        let evaluation = try EvaluationSpec(try top.fields("evaluation"))
        var analyses: [AnalysisSpec] = []
        for (i, n) in (try top.list("analyses") ?? []).enumerated() {
            analyses.append(try AnalysisSpec(try YAMLFields(n, file: file, path: "analyses[\(i)]")))
        }
        let report = try ReportSpec(try top.fields("report"), pipelineName: name)
        try top.finish()

        let definition = PipelineDefinition(name: name, file: file, data: data, models: models, sources: sources,
                                            attacks: attacks, evaluation: evaluation, analyses: analyses, report: report)
        try definition.check(top)
        _ = try StageGraph(definition)   // every stage's inputs and options resolve, or the file is refused now
        return definition
    }

    /// Cross-references: unique names, known sources and targets.
    private func check(_ top: YAMLFields) throws {
        var names: Set<String> = []
        for m in models + sources where !names.insert(m.name).inserted {
            throw PipelineError(file: file, line: m.line, key: "name", "two models are named '\(m.name)'")
        }
        if let reference = report.reference, !models.contains(where: { $0.name == reference }) {
            throw PipelineError(file: file, line: report.line, key: "reference", "no model named '\(reference)' to compare with")
        }
        var attackNames: Set<String> = []
        for a in attacks {
            guard attackNames.insert(a.name).inserted else {
                throw PipelineError(file: file, line: a.line, key: "name", "two attacks are named '\(a.name)'")
            }
            if a.threatModels.contains(.blackBox) {
                guard let source = a.blackBoxSource else {
                    throw PipelineError(file: file, line: a.line, key: "black_box_source", "a black-box attack needs a source model")
                }
                guard names.contains(source) else {
                    throw PipelineError(file: file, line: a.line, key: "black_box_source",
                                        "no model or source is named '\(source)' (known: \(names.sorted().joined(separator: ", ")))")
                }
            }
            for t in a.targets ?? [] where !models.contains(where: { $0.name == t }) {
                throw PipelineError(file: file, line: a.line, key: "targets", "no model is named '\(t)'")
            }
        }
        var analysisNames: Set<String> = []
        for an in analyses {
            guard analysisNames.insert(an.name).inserted else {
                throw PipelineError(file: file, line: an.line, key: "name", "two analyses are named '\(an.name)'")
            }
            for m in an.models ?? [] where !models.contains(where: { $0.name == m }) {
                throw PipelineError(file: file, line: an.line, key: "models", "no model is named '\(m)'")
            }
            guard let spec = an.activations else { continue }
            let attack = try spec.attack.map { name in
                guard let a = attacks.first(where: { $0.name == name }) else {
                    throw PipelineError(file: file, line: an.line, key: "parameters.attack",
                                        "no attack is named '\(name)' (known: \(attacks.map(\.name).joined(separator: ", ")))")
                }
                return a
            }
            let examples = min(spec.examples ?? attack?.examples ?? 200, data.testExamples ?? .max)
            if let a = attack, let n = a.examples, examples > n {
                throw PipelineError(file: file, line: an.line, key: "parameters.examples",
                                    "\(examples) images, but attack '\(a.name)' made adversarial sets of only \(n)")
            }
            for set in spec.figureSets ?? [] where set != "clean" && AnalyzeStage.adversarialRole(set) == nil {
                throw PipelineError(file: file, line: an.line, key: "parameters.figure_sets",
                                    "'\(set)' is not an image set (expected clean or <threat model>@<ε>, e.g. gray-box@0.2)")
            }
            for i in spec.figureImages + spec.landscapeImages where i >= examples {
                throw PipelineError(file: file, line: an.line, key: "parameters",
                                    "image \(i) is not among the first \(examples) test images the analysis reads")
            }
        }
    }

    static func yamlLine(_ e: YamlError) -> Int? {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    static func yamlProblem(_ e: YamlError) -> String {
        switch e {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        default: return "\(e)"
        }
    }
}

/// `data:` — where the images come from and how they are prepared.
public struct DataSpec: Sendable {
    public var layout: Layout
    public var directory: String
    /// Keep only the first N training / test images (after ingest), or all.
    public var trainExamples: Int?
    public var testExamples: Int?
    /// Resampling for folder layouts (required there), optional for Fashion-MNIST.
    public var preprocessing: Preprocessing?
    /// Train/test split for layouts that do not bring their own.
    public var split: SplitOptions

    init(_ f: YAMLFields) throws {
        let layouts = Dictionary(uniqueKeysWithValues: Layout.allCases.map { ($0.rawValue, $0) })
        layout = try f.required("source") { try f.choice($0, layouts) }
        directory = try f.string("directory") ?? (layout == .fashionMNIST ? FashionMNIST.defaultDirectory : "")
        if directory.isEmpty { throw f.error("directory", "missing required key (the folder holding the images)") }
        trainExamples = try f.int("train_examples")
        testExamples = try f.int("test_examples")
        for (k, v) in [("train_examples", trainExamples), ("test_examples", testExamples)] where (v ?? 1) < 1 {
            throw f.error(k, "must be at least 1")
        }
        if let p = try f.fields("preprocessing") {
            let size = try p.int("size")
            let width = try p.int("width") ?? size, height = try p.int("height") ?? size
            guard let width, let height else { throw p.error("size", "missing required key (or width and height)") }
            let fits = Dictionary(uniqueKeysWithValues: Preprocessing.Fit.allCases.map { ($0.rawValue, $0) })
            var pre = Preprocessing(width: width, height: height, resizeShorterSide: try p.int("resize_shorter_side"))
            if let fit = try p.choice("fit", fits) { pre.fit = fit }
            if let channels = try p.int("channels") { pre.channels = channels }
            try p.finish()
            do { try pre.validate() } catch { throw f.error("preprocessing", "\(error)") }
            preprocessing = pre
        } else if layout != .fashionMNIST {
            throw f.error("preprocessing", "missing required key: folder layouts are resampled to one size (e.g. {size: 224, resize_shorter_side: 256})")
        }
        let s = try f.fields("split")
        split = SplitOptions(testFraction: try s?.double("test_fraction") ?? 0.2, seed: UInt64(try s?.int("seed") ?? 0))
        try s?.finish()
        try f.finish()
    }

    /// The ingest stage's parameters.
    var ingestParameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = ["source": .string(layout.rawValue), "directory": .string(directory)]
        if let preprocessing { p["preprocessing"] = .string(DatasetJSON.encode(preprocessing)) }
        if layout != .fashionMNIST { p["split"] = ["test_fraction": .double(split.testFraction), "seed": .int(Int64(split.seed))] }
        return p
    }

    /// The preprocess stage's parameters (slicing of the ingested set).
    var preprocessParameters: [String: ParameterValue] {
        ["train_examples": trainExamples.map { .int(Int64($0)) } ?? .null,
         "test_examples": testExamples.map { .int(Int64($0)) } ?? .null]
    }
}

enum DatasetJSON {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Foundation.Data(), as: UTF8.self)
    }
}

/// `training:` — the schedule; at the top level the defaults, in a model its overrides.
public struct TrainingSpec: Sendable, Hashable {
    public var epochs = 1
    public var batchSize = 128
    public var learningRate = 0.1
    public var schedule = TrainingConfiguration.ScheduleKind.cosine
    public var warmupEpochs = 0.0
    public var optimizer = TrainingConfiguration.OptimizerKind.sgd
    public var momentum = 0.9
    public var weightDecay = 5e-4
    public var cropPadding = 0
    public var flip = false
    /// Images held out of the training set to pick the best checkpoint by robust accuracy.
    public var validationExamples = 0
    /// The attack that measures robust validation accuracy (nil: the defense's training attack, or
    /// for an undefended model no attack).
    public var validationAttack: PGDConfiguration?

    init() {}

    init(_ f: YAMLFields?, over base: TrainingSpec) throws {
        self = base
        guard let f else { return }
        if let v = try f.int("epochs") { guard v >= 1 else { throw f.error("epochs", "must be at least 1") }; epochs = v }
        if let v = try f.int("batch_size") { guard v >= 2 else { throw f.error("batch_size", "must be at least 2") }; batchSize = v }
        if let v = try f.double("learning_rate") { learningRate = v }
        if let v = try f.choice("schedule", ["cosine": TrainingConfiguration.ScheduleKind.cosine, "step": .step, "constant": .constant]) { schedule = v }
        if let v = try f.double("warmup_epochs") { warmupEpochs = v }
        if let v = try f.choice("optimizer", ["sgd": TrainingConfiguration.OptimizerKind.sgd, "adam": .adam]) { optimizer = v }
        if let v = try f.double("momentum") { momentum = v }
        if let v = try f.double("weight_decay") { weightDecay = v }
        if let v = try f.int("crop_padding") { cropPadding = v }
        if let v = try f.bool("flip") { flip = v }
        if let v = try f.int("validation_examples") { guard v >= 0 else { throw f.error("validation_examples", "must be ≥ 0") }; validationExamples = v }
        if let a = try f.fields("validation_attack") { validationAttack = try PGDSpec.read(a) }
        try f.finish()
    }

    func configuration(seed: UInt64) -> TrainingConfiguration {
        TrainingConfiguration(epochs: epochs, batchSize: batchSize, learningRate: Float(learningRate), schedule: schedule,
                              warmupEpochs: warmupEpochs, optimizer: optimizer, momentum: Float(momentum),
                              weightDecay: Float(weightDecay), augmentation: Augmentation(cropPadding: cropPadding, horizontalFlip: flip),
                              seed: seed)
    }

    var parameters: ParameterValue {
        var p: [String: ParameterValue] = [
            "epochs": .int(Int64(epochs)), "batch_size": .int(Int64(batchSize)), "learning_rate": .double(learningRate),
            "schedule": .string(schedule.rawValue), "warmup_epochs": .double(warmupEpochs), "optimizer": .string(optimizer.rawValue),
            "momentum": .double(momentum), "weight_decay": .double(weightDecay), "crop_padding": .int(Int64(cropPadding)),
            "flip": .bool(flip), "validation_examples": .int(Int64(validationExamples)),
        ]
        if let a = validationAttack { p["validation_attack"] = PGDSpec.parameters(a) }
        return .object(p)
    }
}

/// PGD settings as a pipeline file writes them: `{epsilon: 0.1, step_size: 0.025, iterations: 10}`.
enum PGDSpec {
    static func read(_ f: YAMLFields) throws -> PGDConfiguration {
        let epsilon = try f.required("epsilon", f.double)
        let iterations = try f.int("iterations") ?? 10
        let step = try f.double("step_size") ?? epsilon / 4
        let config = try make(epsilon: epsilon, step: step, iterations: iterations, randomStart: try f.bool("random_start") ?? true,
                              restarts: try f.int("restarts") ?? 1, f: f)
        try f.finish()
        return config
    }

    static func make(epsilon: Double, step: Double, iterations: Int, randomStart: Bool, restarts: Int, f: YAMLFields) throws -> PGDConfiguration {
        guard epsilon >= 0 else { throw f.error("epsilon", "must be ≥ 0") }
        guard step >= 0 else { throw f.error("step_size", "must be ≥ 0") }
        guard iterations >= 0 else { throw f.error("iterations", "must be ≥ 0") }
        guard restarts >= 1 else { throw f.error("restarts", "must be at least 1") }
        return PGDConfiguration(epsilon: Float(epsilon), stepSize: Float(step), iterations: iterations, randomStart: randomStart, restarts: restarts)
    }

    static func parameters(_ c: PGDConfiguration) -> ParameterValue {
        ["epsilon": .double(Double(c.epsilon)), "step_size": .double(Double(c.stepSize)), "iterations": .int(Int64(c.iterations)),
         "random_start": .bool(c.randomStart), "restarts": .int(Int64(c.restarts))]
    }
}

/// One entry of `models:` or `sources:` — an architecture, a defense, a schedule and a seed.
public struct ModelSpec: Sendable {
    public var name: String
    public var architecture: String
    /// Channel widths per group, overriding the architecture's (tiny models for tests).
    public var widths: [Int]?
    public var defense: DefenseConfiguration
    /// The defense as written (kind plus its parameters), for keys and reports.
    public var defenseParameters: ParameterValue
    public var training: TrainingSpec
    public var seed: UInt64
    /// Seed of the independently trained copy that plays the gray-box attacker.
    public var grayBoxSeed: UInt64
    /// Display name in reports (default: the name).
    public var label: String
    var line: Int?

    /// The gray-box attacker of this model: same architecture, defense and schedule, another seed.
    public var grayBoxCopy: ModelSpec {
        var copy = self
        copy.name = "\(name)#gray"
        copy.seed = grayBoxSeed
        return copy
    }

    init(_ f: YAMLFields, training defaults: TrainingSpec, defenseDefaults: YAMLFields?) throws {
        line = f.line
        name = try f.required("name", f.string)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.+".contains($0) }) else {
            throw f.error("name", "a model name may hold letters, digits, '-', '_', '+' and '.' only")
        }
        label = try f.string("label") ?? name
        architecture = try f.required("architecture", f.string)
        guard (try? ResNetConfiguration.named(architecture, inputChannels: 1, classes: 2)) != nil else {
            throw f.error("architecture", "unknown architecture '\(architecture)' (use resnet8/20/32/44/56/110, resnet18-small, or resnet18/34/50/101/152)")
        }
        widths = try f.ints("widths")
        seed = UInt64(try f.int("seed") ?? 0)
        grayBoxSeed = UInt64(try f.int("gray_box_seed") ?? Int(seed) + 1000)
        training = try TrainingSpec(try f.fields("training"), over: defaults)
        (defense, defenseParameters) = try DefenseSpec.read(try f.required("defense", f.fields), defaults: defenseDefaults)
        try f.finish()
    }

    func resnetConfiguration(channels: Int, classes: Int) throws -> ResNetConfiguration {
        var config = try ResNetConfiguration.named(architecture, inputChannels: channels, classes: classes)
        if let widths {
            guard widths.count == config.widths.count else {
                throw PipelineError(file: "", key: "models.\(name).widths", "\(architecture) has \(config.widths.count) groups, \(widths.count) widths given")
            }
            config.widths = widths
        }
        return config
    }

    /// What determines the trained weights (never the thread count).
    var trainParameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = ["architecture": .string(architecture), "defense": defenseParameters,
                                           "training": training.parameters, "seed": .int(Int64(seed))]
        if let widths { p["widths"] = .array(widths.map { .int(Int64($0)) }) }
        return p
    }
}

/// `defense:` — a kind of `DefenseConfiguration.Kind` and its parameters. New kinds drop in: any kind
/// the Robustness module knows is accepted; its parameters are the ones listed here.
enum DefenseSpec {
    static func read(_ f: YAMLFields, defaults: YAMLFields?) throws -> (DefenseConfiguration, ParameterValue) {
        let kinds = Dictionary(uniqueKeysWithValues: DefenseConfiguration.Kind.allCases.map { ($0.rawValue, $0) })
        let kind = try f.required("kind") { try f.choice($0, kinds) }
        // Read the default too even when the model sets the key, so that `finish()` knows it.
        func double(_ key: String) throws -> Double? { let d = try defaults?.double(key); return try f.double(key) ?? d }
        func int(_ key: String) throws -> Int? { let d = try defaults?.int(key); return try f.int(key) ?? d }
        func bool(_ key: String) throws -> Bool? { let d = try defaults?.bool(key); return try f.bool(key) ?? d }
        let epsilon = try double("epsilon") ?? 0.1
        let attack = try PGDSpec.make(epsilon: epsilon, step: try double("step_size") ?? epsilon / 4, iterations: try int("iterations") ?? 10,
                                      randomStart: try bool("random_start") ?? true, restarts: 1, f: f)
        let defaultGroups = try defaults?.ints("attention_groups")
        let groups = try f.ints("attention_groups") ?? defaultGroups
        let defaultDenoising = try defaults?.ints("denoising_groups")
        let denoising = try f.ints("denoising_groups") ?? defaultDenoising
        let noises = Dictionary(uniqueKeysWithValues: NoiseDistribution.allCases.map { ($0.rawValue, $0) })
        let defaultNoise = try defaults?.choice("noise_distribution", noises)
        let noise = try f.choice("noise_distribution", noises) ?? defaultNoise ?? DefenseConfiguration.Defaults.noiseDistribution
        typealias D = DefenseConfiguration.Defaults
        let inputGradientWeight = try double("input_gradient_weight") ?? Double(D.inputGradientWeight)
        let finiteDifferenceStep = try double("finite_difference_step") ?? Double(D.finiteDifferenceStep)
        let noiseScale = try double("noise_scale") ?? Double(D.noiseScale)
        let sizeRatio = try double("randomization_size_ratio") ?? Double(D.randomizationSizeRatio)
        let ensembleSize = try int("ensemble_size") ?? D.ensembleSize
        let adpAlpha = try double("adp_alpha") ?? Double(D.adpAlpha), adpBeta = try double("adp_beta") ?? Double(D.adpBeta)
        let eot = try int("eot_samples") ?? D.eotSamples, draws = try int("inference_draws") ?? D.inferenceDraws
        guard inputGradientWeight >= 0, finiteDifferenceStep > 0, noiseScale >= 0, sizeRatio >= 1, ensembleSize >= 1, eot >= 1, draws >= 1 else {
            throw f.error("kind", "invalid parameters: need input_gradient_weight ≥ 0, finite_difference_step > 0, noise_scale ≥ 0, "
                          + "randomization_size_ratio ≥ 1, ensemble_size, eot_samples and inference_draws ≥ 1")
        }
        var d = DefenseConfiguration(kind: kind, alpha: Float(try double("alpha") ?? 0.5), beta: Float(try double("beta") ?? 1),
                                     attentionGroups: groups, attentionNorm: Float(try double("attention_norm") ?? 2),
                                     attentionExponent: Float(try double("attention_exponent") ?? 2), attack: attack,
                                     cleanLossWeight: Float(try double("clean_loss_weight") ?? 0),
                                     detachClean: try bool("detach_clean") ?? false,
                                     inputGradientWeight: Float(inputGradientWeight), finiteDifferenceStep: Float(finiteDifferenceStep),
                                     noiseDistribution: noise, noiseScale: Float(noiseScale), randomizationSizeRatio: Float(sizeRatio),
                                     denoisingGroups: denoising, ensembleSize: ensembleSize, adpAlpha: Float(adpAlpha), adpBeta: Float(adpBeta),
                                     eotSamples: eot, inferenceDraws: draws)
        if !d.isAdversarial { d.attack = PGDConfiguration(epsilon: 0, stepSize: 0, iterations: 0) }
        try f.finish()
        // The key holds what the objective actually uses: α for none/PAT is 0 whatever the file says,
        // and each baseline's own parameters only for that baseline.
        var p: [String: ParameterValue] = ["kind": .string(kind.rawValue)]
        if d.isAdversarial {
            p["attack"] = PGDSpec.parameters(d.attack)
            p["alpha"] = .double(Double(d.alpha)); p["beta"] = .double(Double(d.beta))
            p["clean_loss_weight"] = .double(Double(d.cleanLossWeight)); p["detach_clean"] = .bool(d.detachClean)
            if d.beta != 0 {
                p["attention_norm"] = .double(Double(d.attentionNorm)); p["attention_exponent"] = .double(Double(d.attentionExponent))
                p["attention_groups"] = groups.map { .array($0.map { .int(Int64($0)) }) } ?? .null
            }
        }
        switch kind {
        case .igr:
            p["input_gradient_weight"] = .double(inputGradientWeight); p["finite_difference_step"] = .double(finiteDifferenceStep)
        case .rat:
            p["noise_distribution"] = .string(noise.rawValue); p["noise_scale"] = .double(noiseScale)
        case .randomization:
            p["randomization_size_ratio"] = .double(sizeRatio)
        case .fd:
            p["denoising_groups"] = denoising.map { .array($0.map { .int(Int64($0)) }) } ?? .null
        case .adp:
            p["ensemble_size"] = .int(Int64(ensembleSize)); p["adp_alpha"] = .double(adpAlpha); p["adp_beta"] = .double(adpBeta)
        default:
            break
        }
        return (d, .object(p))
    }
}

/// One entry of `attacks:` — PGD (or another attack kind) under one or more threat models, at
/// several ε, recorded after several iteration counts.
public struct AttackSpec: Sendable {
    public var name: String
    /// `pgd`, or a kind registered in `AttackKinds` (`ensemble` when the attack ensemble is built in).
    public var kind: String
    public var threatModels: [ThreatModel]
    public var blackBoxSource: String?
    public var epsilons: [Double]
    /// Iteration counts at which accuracy is recorded; the largest is the attack's length.
    public var iterations: [Int]
    public var stepSize: Double
    public var restarts: Int
    public var randomStart: Bool
    /// Attack the first N test images (default: all).
    public var examples: Int?
    public var seed: UInt64
    /// The models to attack (default: all).
    public var targets: [String]?
    /// Which checkpoint of each model is attacked and evaluated: `best` (by robust validation
    /// accuracy) or `last`.
    public var checkpoint: String
    /// Attack randomised sources with expectation over transformation (their defense's
    /// `eot_samples` gradient draws per step). `false` gives the naive single-draw attack, to show
    /// how much EOT matters; deterministic sources are attacked the same either way.
    public var eot: Bool
    /// Which iterate a PGD attack hands over as its transfer set (`transfer_rule`, default
    /// `final-iterate`: Madry et al. and the paper; docs/attacks.md, "Attack semantics").
    public var transferRule: TransferRule
    var line: Int?

    init(_ f: YAMLFields) throws {
        line = f.line
        name = try f.required("name", f.string)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw f.error("name", "an attack name may hold letters, digits, '-', '_' and '.' only")
        }
        kind = try f.string("kind") ?? "pgd"
        guard AttackKinds.known.contains(kind) else {
            throw f.error("kind", "unknown attack kind '\(kind)' (expected one of: \(AttackKinds.known.sorted().joined(separator: ", ")))")
        }
        let threats = Dictionary(uniqueKeysWithValues: ThreatModel.allCases.map { ($0.rawValue, $0) })
        threatModels = try (f.strings("threat_models") ?? ["white-box"]).map { text in
            guard let t = threats[text] else {
                throw f.error("threat_models", "unknown threat model '\(text)' (expected one of: white-box, gray-box, black-box)")
            }
            return t
        }
        blackBoxSource = try f.string("black_box_source")
        epsilons = try f.required("epsilons", f.doubles)
        guard !epsilons.isEmpty, epsilons.allSatisfy({ $0 >= 0 }) else { throw f.error("epsilons", "give at least one ε ≥ 0") }
        iterations = try f.required("iterations", f.ints).sorted()
        guard !iterations.isEmpty, iterations.allSatisfy({ $0 >= 0 }) else { throw f.error("iterations", "give at least one count ≥ 0") }
        stepSize = try f.required("step_size", f.double)
        restarts = try f.int("restarts") ?? 1
        guard restarts >= 1 else { throw f.error("restarts", "must be at least 1") }
        randomStart = try f.bool("random_start") ?? true
        examples = try f.int("examples")
        seed = UInt64(try f.int("seed") ?? 0)
        targets = try f.strings("targets")
        checkpoint = try f.choice("checkpoint", ["best": "best", "last": "last"]) ?? "best"
        eot = try f.bool("eot") ?? true
        let rules = Dictionary(uniqueKeysWithValues: TransferRule.allCases.map { ($0.rawValue, $0) })
        transferRule = try f.choice("transfer_rule", rules) ?? .finalIterate
        // The ensemble keeps each example's first success (white-box scoring) or x itself: no transfer set.
        if kind == "ensemble" && threatModels.contains(where: { $0 != .whiteBox }) {
            throw f.error("threat_models", "the ensemble attack scores white-box only (it keeps each example's first success and makes "
                          + "no transfer set); use kind: pgd for gray-box and black-box")
        }
        if kind != "pgd" && f.has("transfer_rule") {
            throw f.error("transfer_rule", "only a pgd attack has a transfer rule")
        }
        try f.finish()
    }

    func configuration(epsilon: Double) -> PGDConfiguration {
        PGDConfiguration(epsilon: Float(epsilon), stepSize: Float(stepSize), iterations: iterations.last!, randomStart: randomStart,
                         restarts: restarts)
    }

    /// Parameters of one adversarial-generate stage (one source, one ε).
    func generateParameters(epsilon: Double) -> [String: ParameterValue] {
        ["kind": .string(kind), "epsilon": .double(epsilon), "step_size": .double(stepSize),
         "iterations": .array(iterations.map { .int(Int64($0)) }), "restarts": .int(Int64(restarts)),
         "random_start": .bool(randomStart), "examples": examples.map { .int(Int64($0)) } ?? .null, "seed": .int(Int64(seed)),
         "transfer_rule": .string(transferRule.rawValue)]
            // Only when off, so that sets made before the option existed keep their keys.
            .merging(eot ? [:] : ["eot": .bool(false)]) { $1 }
    }
}

/// The attack kinds a pipeline may name. Built in: `pgd`, and `ensemble` (the AutoAttack-style
/// APGD-CE, APGD-T, Square ensemble of `AttackEnsemble`, its length the largest of `iterations`; the
/// same images stand for every recorded count). Others are registered by the module that implements
/// them: `AttackKinds.register("my-attack") { … }`.
public enum AttackKinds {
    public static var known: Set<String> { registry.withLock { Set($0.keys) }.union(["pgd", "ensemble"]) }

    /// Crafts adversarial examples of one batch (images in [0, 1], N×C×H×W) against `source`, within
    /// `attack.epsilon` of the images: per recorded iteration count (or budget) k, the batch the
    /// attacker would hand over after k iterations.
    public typealias Generator = @Sendable (_ source: any Classifier, _ images: Tensor, _ labels: [Int], _ attack: PGDConfiguration,
                                            _ recordingAfter: [Int], _ rng: inout SeededRandom) -> AttackOutput

    /// What a generator found on one batch.
    public struct AttackOutput: Sendable {
        /// The adversarial batch after each recorded count: what the attacker hands over to any model
        /// (for PGD, the transfer set under the attack's `TransferRule`).
        public var images: [Int: Tensor]
        /// White-box evidence after each recorded count when it differs from `images` (PGD: per example
        /// the first iterate that fooled the source); white-box evaluation scores these.
        public var whiteBoxImages: [Int: Tensor]?
        /// For attack ensembles: each member's share (robust accuracy of the source after it, on this batch).
        public var stages: [EnsembleResult.Stage]
        public init(images: [Int: Tensor], whiteBoxImages: [Int: Tensor]? = nil, stages: [EnsembleResult.Stage] = []) {
            self.images = images
            self.whiteBoxImages = whiteBoxImages
            self.stages = stages
        }
    }

    public static func register(_ kind: String, _ generator: @escaping Generator) {
        registry.withLock { $0[kind] = generator }
    }

    static func generator(_ kind: String) -> Generator? { registry.withLock { $0[kind] } }

    private static let registry = Locked<[String: Generator]>([:])
}

/// `evaluation:` — how evaluations run.
public struct EvaluationSpec: Sendable {
    public var batchSize: Int
    init(_ f: YAMLFields?) throws {
        batchSize = try f?.int("batch_size") ?? 256
        guard batchSize >= 1 else { throw f!.error("batch_size", "must be at least 1") }
        try f?.finish()
    }
}

/// One entry of `analyses:` — attention maps, key-region statistics, loss landscapes (a later
/// issue). The runner gives each a stage after the evaluations; its kind must be registered.
public struct AnalysisSpec: Sendable {
    public var name: String
    /// `activations` (built in: attention maps, key-region statistics, loss landscapes), or a kind
    /// registered with `AnalysisKinds.register`.
    public var kind: String
    public var models: [String]?
    /// The typed parameters of the built-in `activations` kind; nil for registered kinds.
    public var activations: ActivationAnalysisSpec?
    /// Every parameter as written (what a registered kind reads, and what the stage key holds).
    public var parameters: ParameterValue
    var line: Int?

    init(_ f: YAMLFields) throws {
        line = f.line
        name = try f.required("name", f.string)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw f.error("name", "an analysis name may hold letters, digits, '-', '_' and '.' only")
        }
        kind = try f.required("kind", f.string)
        models = try f.strings("models")
        let params = try f.fields("parameters")
        if kind == ActivationAnalysisSpec.kind {
            let spec = try ActivationAnalysisSpec(params)
            activations = spec
            parameters = spec.parameters
        } else {
            guard AnalysisKinds.known.contains(kind) else {
                throw f.error("kind", "unknown analysis kind '\(kind)' (expected one of: "
                              + (AnalysisKinds.known.union([ActivationAnalysisSpec.kind])).sorted().joined(separator: ", ") + ")")
            }
            var p: [String: ParameterValue] = [:]
            if let params {
                for (key, _, _) in params.pairs { if let n = params.node(key) { p[key] = ParameterValue(yaml: n) } }
                try params.finish()
            }
            parameters = .object(p)
        }
        try f.finish()
    }
}

/// Parameters of the built-in `activations` analysis (the paper's Table 2, Figure 4 and Figure 6), per
/// model: activation artifacts of the clean test images and of the adversarial sets one attack made
/// against that model (each threat model and ε, after its longest run), and a loss landscape.
public struct ActivationAnalysisSpec: Sendable {
    public static let kind = "activations"
    /// The attack whose adversarial sets are analysed (nil: clean images only).
    public var attack: String?
    /// The first N test images (default: the attack's examples, else 200).
    public var examples: Int?
    /// Test images whose inputs are kept, and drawn in Figure 4.
    public var figureImages = [0, 1]
    /// The image sets drawn in Figure 4: `clean` and adversarial sets as `<threat model>@<ε>` (default:
    /// clean and, as the paper's figure, the gray-box set at the attack's largest ε, else white-box).
    /// Every set enters Table 2.
    public var figureSets: [String]?
    /// Test images whose loss landscape is computed (Figure 6).
    public var landscapeImages = [0, 1]
    /// Half-width of the landscape grid in pixel units (default: the attack's largest ε, else 0.25).
    public var landscapeRadius: Double?
    /// Grid points per axis.
    public var landscapeSteps = 21
    /// Also keep the raw group outputs of the figure images.
    public var keepActivations = false
    /// The exponent p of F(A) = (1/C)·Σ_c |A_c|^p.
    public var attentionExponent = 2.0
    /// `best` or `last` checkpoint of each model.
    public var checkpoint = "best"

    init(_ f: YAMLFields?) throws {
        guard let f else { return }
        attack = try f.string("attack")
        examples = try f.int("examples")
        if let v = examples, v < 1 { throw f.error("examples", "must be at least 1") }
        if let v = try f.ints("figure_images") {
            guard v.allSatisfy({ $0 >= 0 }) else { throw f.error("figure_images", "image indices are ≥ 0") }
            figureImages = v
        }
        if let v = try f.ints("landscape_images") {
            guard v.allSatisfy({ $0 >= 0 }) else { throw f.error("landscape_images", "image indices are ≥ 0") }
            landscapeImages = v
        }
        figureSets = try f.strings("figure_sets")
        landscapeRadius = try f.double("landscape_radius")
        if let r = landscapeRadius, !(r > 0) { throw f.error("landscape_radius", "must be > 0") }
        if let v = try f.int("landscape_steps") { guard v >= 2 else { throw f.error("landscape_steps", "must be at least 2") }; landscapeSteps = v }
        keepActivations = try f.bool("keep_activations") ?? false
        attentionExponent = try f.double("attention_exponent") ?? 2
        checkpoint = try f.choice("checkpoint", ["best": "best", "last": "last"]) ?? "best"
        try f.finish()
    }

    var parameters: ParameterValue {
        .object(["attack": attack.map { .string($0) } ?? .null, "examples": examples.map { .int(Int64($0)) } ?? .null,
                 "figure_images": .array(figureImages.map { .int(Int64($0)) }),
                 "figure_sets": figureSets.map { .array($0.map { .string($0) }) } ?? .null,
                 "landscape_images": .array(landscapeImages.map { .int(Int64($0)) }),
                 "landscape_radius": landscapeRadius.map { .double($0) } ?? .null, "landscape_steps": .int(Int64(landscapeSteps)),
                 "keep_activations": .bool(keepActivations), "attention_exponent": .double(attentionExponent),
                 "checkpoint": .string(checkpoint)])
    }
}

extension ParameterValue {
    init(yaml n: Node) {
        if let s = n.scalar {
            if s.style == .plain, let i = Int64(s.string) { self = .int(i); return }
            if s.style == .plain, let d = Double(s.string) { self = .double(d); return }
            if s.style == .plain, ["true", "false"].contains(s.string) { self = .bool(s.string == "true"); return }
            self = .string(s.string)
        } else if let seq = n.sequence {
            self = .array(seq.map { ParameterValue(yaml: $0) })
        } else if let m = n.mapping {
            var o: [String: ParameterValue] = [:]
            for (k, v) in m { o[k.scalar?.string ?? ""] = ParameterValue(yaml: v) }
            self = .object(o)
        } else {
            self = .null
        }
    }
}

/// `report:` — where the report goes.
public struct ReportSpec: Sendable {
    /// Default `reports/<pipeline name>`.
    public var directory: String
    public var title: String
    /// The model every defense is compared with image by image (`reference`; default: the first PAT model).
    public var reference: String?
    var line: Int?
    init(_ f: YAMLFields?, pipelineName: String) throws {
        directory = try f?.string("directory") ?? "reports/\(pipelineName)"
        title = try f?.string("title") ?? "atalp report: \(pipelineName)"
        reference = try f?.string("reference")
        line = f?.line
        try f?.finish()
    }
}

/// A value behind a lock (Swift 6's Mutex needs macOS 15; this builds everywhere).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
