import Foundation
import Robustness
import Store

/// One stage instance of a pipeline: its kind and version, its parameters, where its inputs come from
/// (another node's output, by role), and how to compute it.
public struct StageNode: Sendable {
    /// Unique in the pipeline: `ingest`, `train:atalp`, `attack:pgd:gray-box:atalp@0.25`, `report`.
    public var name: String
    /// The stage kind: ingest, preprocess, train, adversarial-generate, evaluate, analyze, report.
    public var stage: String
    public var version: Int
    public var parameters: [String: ParameterValue]
    /// Input role → (node, output role).
    public var inputs: [String: (node: String, output: String)]
    /// The output roles `compute` returns; nil where a registered kind does not say.
    public var outputs: Set<String>?
    /// Where in the pipeline file an input's reference was written (the key that chose it), for
    /// the message when it does not resolve.
    var origins: [String: Origin] = [:]
    let compute: @Sendable (StageRun) throws -> [String: ArtifactID]

    /// A place in the pipeline file: the line and key path of the setting that made a reference.
    struct Origin: Sendable {
        var line: Int?
        var key: String
    }

    public var dependencies: [String] { Array(Set(inputs.values.map(\.node))).sorted() }

    /// The store's spec. Nested parameters are flattened to dotted names (`defense.beta`), so that
    /// `atalp status` names the one that changed rather than its whole group.
    func spec(_ inputs: [String: ArtifactID]) -> StageSpec {
        StageSpec(stage: stage, implementationVersion: version, parameters: Self.flatten(parameters), inputs: inputs)
    }

    static func flatten(_ parameters: [String: ParameterValue], prefix: String = "") -> [String: ParameterValue] {
        var flat: [String: ParameterValue] = [:]
        for (name, value) in parameters {
            if case .object(let fields) = value, !fields.isEmpty {
                flat.merge(flatten(fields, prefix: prefix + name + ".")) { $1 }
            } else {
                flat[prefix + name] = value
            }
        }
        return flat
    }
}

/// The stages of a pipeline in dependency order:
///
///     ingest → preprocess → train:<model> (and train:<model>#gray, train:<source>)
///            → attack:<attack>:<threat>:<source>@ε  (adversarial-generate, one per source and ε)
///            → evaluate:<model>:<attack>           (every threat model and ε of one attack)
///            → analyze:<analysis>:<model>          (attention maps, key regions, landscapes)
///            → report
///
/// White-box sets are crafted on the target itself; gray-box on its `#gray` copy; black-box on the
/// attack's `black_box_source`, once per ε and handed to every target.
public struct StageGraph: Sendable {
    public var nodes: [StageNode]

    public func node(_ name: String) -> StageNode? { nodes.first { $0.name == name } }

    public init(_ p: PipelineDefinition) throws {
        var nodes: [StageNode] = []
        let data = p.data
        nodes.append(StageNode(name: "ingest", stage: "ingest", version: DataStages.ingestVersion, parameters: data.ingestParameters,
                               inputs: [:], outputs: ["dataset"]) { try DataStages.ingest(data, $0) })
        nodes.append(StageNode(name: "preprocess", stage: "preprocess", version: DataStages.preprocessVersion,
                               parameters: data.preprocessParameters, inputs: ["dataset": ("ingest", "dataset")],
                               outputs: ["dataset"]) { try DataStages.preprocess(data, $0) })
        for m in p.trainedModels {
            nodes.append(StageNode(name: "train:\(m.name)", stage: "train", version: TrainStage.version, parameters: m.trainParameters,
                                   inputs: ["data": ("preprocess", "dataset")], outputs: TrainStage.outputs) { try TrainStage.run(m, $0) })
        }
        let batch = p.evaluation.batchSize
        var generated: Set<String> = []
        var evaluations: [(model: ModelSpec, attack: AttackSpec, node: String)] = []
        for (index, a) in p.attacks.enumerated() {
            let targets = p.models.filter { a.targets?.contains($0.name) ?? true }
            let checkpoint = TrainStage.output(checkpoint: a.checkpoint)
            let chosen = ["model": StageNode.Origin(line: a.line, key: "attacks[\(index)].checkpoint")]
            for m in targets {
                var inputs: [String: (node: String, output: String)] = ["model": ("train:\(m.name)", checkpoint), "data": ("preprocess", "dataset")]
                for (threat, source) in Self.sources(of: a, against: m) {
                    for epsilon in a.epsilons {
                        // One set per (attack, source, ε): the black-box source's sets serve every target.
                        let name = "attack:\(a.name):\(source)@\(epsilon)"
                        if generated.insert(name).inserted {
                            nodes.append(StageNode(name: name, stage: "adversarial-generate", version: GenerateStage.version,
                                                   parameters: a.generateParameters(epsilon: epsilon).merging(["batch_size": .int(Int64(batch))]) { $1 },
                                                   inputs: ["source": ("train:\(source)", checkpoint), "data": ("preprocess", "dataset")],
                                                   outputs: ["adversarial"],
                                                   origins: ["source": chosen["model"]!]) {
                                try GenerateStage.run(a, epsilon: epsilon, batchSize: batch, $0)
                            })
                        }
                        inputs[EvaluateStage.role(threat, epsilon)] = (name, "adversarial")
                    }
                }
                let name = "evaluate:\(m.name):\(a.name)"
                nodes.append(StageNode(name: name, stage: "evaluate", version: EvaluateStage.version,
                                       parameters: ["batch_size": .int(Int64(batch)), "examples": a.examples.map { .int(Int64($0)) } ?? .null,
                                                    "step_size": .double(a.stepSize), "restarts": .int(Int64(a.restarts))],
                                       inputs: inputs, outputs: ["evaluation"], origins: chosen) { try EvaluateStage.run(a, batchSize: batch, $0) })
                evaluations.append((m, a, name))
            }
        }
        var analysisOutputs: [String: (node: String, output: String)] = [:]
        for (index, an) in p.analyses.enumerated() {
            if let spec = an.activations {
                // Built in: one stage per model, over its clean images and the sets the attack made against it.
                let attack = spec.attack.flatMap { name in p.attacks.first { $0.name == name } }
                for m in p.models where an.models?.contains(m.name) ?? true {
                    var inputs: [String: (node: String, output: String)] = ["data": ("preprocess", "dataset"),
                                                                             "model": ("train:\(m.name)", TrainStage.output(checkpoint: spec.checkpoint))]
                    if let a = attack {
                        for (threat, source) in Self.sources(of: a, against: m) {
                            for epsilon in a.epsilons where generated.contains("attack:\(a.name):\(source)@\(epsilon)") {
                                inputs[EvaluateStage.role(threat, epsilon)] = ("attack:\(a.name):\(source)@\(epsilon)", "adversarial")
                            }
                        }
                    }
                    let name = "analyze:\(an.name):\(m.name)"
                    let made = Set(inputs.keys.filter { $0 != "data" && $0 != "model" }).union(["clean", "landscape"])
                    nodes.append(StageNode(name: name, stage: "analyze", version: AnalyzeStage.version,
                                           parameters: ["kind": .string(an.kind), "parameters": an.parameters, "label": .string(m.label)],
                                           inputs: inputs, outputs: made,
                                           origins: ["model": .init(line: an.line, key: "analyses[\(index)].parameters.checkpoint")]) {
                        try AnalyzeStage.run(spec, model: m, attack: attack, $0)
                    })
                    for role in inputs.keys where role != "data" && role != "model" {
                        analysisOutputs["analysis/\(an.name)/\(m.name)/\(role)"] = (name, role)
                    }
                    analysisOutputs["analysis/\(an.name)/\(m.name)/clean"] = (name, "clean")
                    analysisOutputs["analysis/\(an.name)/\(m.name)/landscape"] = (name, "landscape")
                }
                continue
            }
            guard let analysis = AnalysisKinds.implementation(an.kind) else {
                throw PipelineError(file: p.file, line: an.line, key: "kind",
                                    "analysis kind '\(an.kind)' is not available in this build (registered: \(AnalysisKinds.known.sorted().joined(separator: ", ")))")
            }
            var inputs: [String: (node: String, output: String)] = ["data": ("preprocess", "dataset")]
            for m in p.models where an.models?.contains(m.name) ?? true { inputs["model:\(m.name)"] = ("train:\(m.name)", "best") }
            nodes.append(StageNode(name: "analyze:\(an.name)", stage: "analyze", version: analysis.version,
                                   parameters: ["kind": .string(an.kind), "parameters": an.parameters], inputs: inputs) { try analysis.run(an, $0) })
        }
        if !evaluations.isEmpty {
            var inputs = analysisOutputs
            for e in evaluations { inputs["\(e.model.name)/\(e.attack.name)"] = (e.node, "evaluation") }
            let rows: [ParameterValue] = evaluations.map {
                ["model": .string($0.model.name), "label": .string($0.model.label), "defense": .string($0.model.defense.kind.rawValue),
                 "attack": .string($0.attack.name)]
            }
            let title = p.report.title, name = p.name
            let notes = ["Pipeline \(p.name) (\(p.file)); data: \(p.data.layout.rawValue)"
                         + (p.data.trainExamples.map { ", first \($0) training images" } ?? "")
                         + (p.data.testExamples.map { ", first \($0) test images" } ?? "")]
                + p.trainedModels.map { m in
                    "\(m.name): \(m.architecture), defense \(m.defense.kind.rawValue), \(m.training.epochs) epochs, seed \(m.seed)"
                        + (m.training.validationExamples > 0
                           ? "; best checkpoint by \(TrainStage.selection(m).rawValue) validation accuracy"
                           : "; no validation, so the best checkpoint is the last")
                }
                + p.attacks.map { "attack \($0.name) uses each model's \($0.checkpoint) checkpoint" }
            let order = evaluations.map { ($0.model, $0.attack.name, $0.node) }
            nodes.append(StageNode(name: "report", stage: "report", version: ReportStage.version,
                                   parameters: ["title": .string(title), "rows": .array(rows), "notes": .array(notes.map { .string($0) }),
                                                "reference": p.report.reference.map { .string($0) } ?? .null],
                                   inputs: inputs, outputs: ["report"]) { run in
                try ReportStage.run(title: title, pipeline: name, notes: notes, reference: p.report.reference,
                                    rows: order.map { (model: $0.0, attack: $0.1) }, run)
            })
        }
        self.nodes = nodes
        try Self.check(nodes, file: p.file)
        try Self.checkOptions(p)
    }

    /// Every input names a stage that comes earlier and an output that stage makes, so that a
    /// pipeline that cannot run to the end is refused before any stage runs (at load, by
    /// `--dry-run` and `status`), naming the file, line and key that made the reference — not after
    /// every model has trained.
    static func check(_ nodes: [StageNode], file: String) throws {
        var made: [String: Set<String>?] = [:]
        for node in nodes {
            for (role, source) in node.inputs.sorted(by: { $0.key < $1.key }) {
                let origin = node.origins[role]
                func fail(_ message: String) -> PipelineError {
                    PipelineError(file: file, line: origin?.line, key: origin?.key, "\(node.name): input '\(role)': \(message)")
                }
                guard let outputs = made[source.node] else { throw fail("no stage \(source.node) runs before it") }
                if let outputs, !outputs.contains(source.output) {
                    throw fail("\(source.node) has no output '\(source.output)' (it makes \(outputs.sorted().joined(separator: ", ")))")
                }
            }
            made[node.name] = node.outputs
        }
    }

    /// Options whose validity the file alone decides, checked now rather than when their stage runs.
    static func checkOptions(_ p: PipelineDefinition) throws {
        guard let trainExamples = p.data.trainExamples else { return }
        for (index, m) in (p.models + p.sources).enumerated() where m.training.validationExamples >= trainExamples {
            let list = index < p.models.count ? "models[\(index)]" : "sources[\(index - p.models.count)]"
            throw PipelineError(file: p.file, line: m.line, key: "\(list).training.validation_examples",
                                "\(m.training.validationExamples) validation images (set here or under the top-level training:) "
                                + "must be fewer than the \(trainExamples) training images of data.train_examples")
        }
    }

    /// The model each threat model of an attack crafts its sets on, for one target: the target itself
    /// (white-box), its `#gray` copy (gray-box), the attack's black-box source.
    static func sources(of a: AttackSpec, against m: ModelSpec) -> [(ThreatModel, String)] {
        ThreatModel.allCases.filter { a.threatModels.contains($0) }.map { threat in
            switch threat {
            case .whiteBox: (threat, m.name)
            case .grayBox: (threat, "\(m.name)#gray")
            case .blackBox: (threat, a.blackBoxSource!)
            }
        }
    }

    /// The named nodes and everything they depend on. A name selects a node exactly, or every node
    /// whose name starts with it followed by ":" (`train` → all training stages, `attack:pgd` → all
    /// sets of that attack).
    public func closure(of names: [String]) throws -> Set<String> {
        var selected: Set<String> = []
        for name in names {
            let matches = nodes.filter { $0.name == name || $0.name.hasPrefix(name + ":") || $0.stage == name }
            guard !matches.isEmpty else {
                throw PipelineError(file: "--stage", "no stage is named '\(name)' (stages: \(nodes.map(\.name).joined(separator: ", ")))")
            }
            selected.formUnion(matches.map(\.name))
        }
        var queue = Array(selected)
        while let next = queue.popLast() {
            for d in node(next)?.dependencies ?? [] where selected.insert(d).inserted { queue.append(d) }
        }
        return selected
    }
}

/// Analysis stages (attention maps, key-region statistics, loss landscapes): a later module registers
/// each kind, and pipelines name it in `analyses:`. Inputs: `data` and `model:<name>` (best checkpoints).
public enum AnalysisKinds {
    public struct Implementation: Sendable {
        public var version: Int
        public var run: @Sendable (AnalysisSpec, StageRun) throws -> [String: ArtifactID]
        public init(version: Int, run: @escaping @Sendable (AnalysisSpec, StageRun) throws -> [String: ArtifactID]) {
            self.version = version
            self.run = run
        }
    }

    public static func register(_ kind: String, _ implementation: Implementation) {
        registry.withLock { $0[kind] = implementation }
    }

    public static var known: Set<String> { registry.withLock { Set($0.keys) } }
    static func implementation(_ kind: String) -> Implementation? { registry.withLock { $0[kind] } }
    private static let registry = Locked<[String: Implementation]>([:])
}
