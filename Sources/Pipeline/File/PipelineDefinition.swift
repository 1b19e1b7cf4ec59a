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

    /// Every model under evaluation once per training seed (`ModelSpec.replicates`), row by row.
    public var replicates: [ModelSpec] { models.flatMap(\.replicates) }

    /// Every model that must be trained, by name: each model once per seed, the sources, and
    /// gray-box copies (`<name>#gray`) of the models attacked gray-box.
    public var trainedModels: [ModelSpec] {
        var all = replicates + sources
        if attacks.contains(where: { $0.threatModels.contains(.grayBox) }) {
            for m in replicates { all.append(m.grayBoxCopy) }
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
        let name = try top.name(of: "a pipeline", fallback: fallbackName)
        let data = try DataSpec(try top.required("data", top.fields))
        let trainingDefaults = try top.fields("training")
        let training = try TrainingSpec(trainingDefaults, over: TrainingSpec())
        let defenseDefaults = try top.fields("defense")
        let seeds = try ModelSpec.seeds(top)
        var models: [ModelSpec] = []
        for (i, n) in (try top.required("models", top.list)).enumerated() {
            models.append(try ModelSpec(try YAMLFields(n, file: file, path: "models[\(i)]"), training: training,
                                        defenseDefaults: defenseDefaults, seedDefaults: seeds))
        }
        var sources: [ModelSpec] = []
        for (i, n) in (try top.list("sources") ?? []).enumerated() {
            let source = try ModelSpec(try YAMLFields(n, file: file, path: "sources[\(i)]"), training: training,
                                       defenseDefaults: defenseDefaults)
            guard source.seeds.count == 1 else {
                throw PipelineError(file: file, line: source.line, key: "sources[\(i)].seeds", "a source (an attacker) is trained once: give it one seed")
            }
            sources.append(source)
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
            let spec = an.activations
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
            for set in spec.figureSets ?? [] where set != "clean" && AdversarialSetRole(set) == nil {
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

/// `evaluation:` — how evaluations run.
public struct EvaluationSpec: Sendable {
    public var batchSize: Int
    init(_ f: YAMLFields?) throws {
        batchSize = try f?.int("batch_size") ?? 256
        guard batchSize >= 1 else { throw f!.error("batch_size", "must be at least 1") }
        try f?.finish()
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
