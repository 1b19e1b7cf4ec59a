import Foundation
import Robustness
import Store

/// The stages of a pipeline in dependency order:
///
///     ingest → preprocess → train:<model> (and train:<model>#gray, train:<source>; with several
///                                          seeds train:<model>#seed<s> and its #gray per seed)
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
        var nodes = [IngestStage.node(p.data), PreprocessStage.node(p.data)]
        nodes += p.trainedModels.map(TrainStage.node)
        let batch = p.evaluation.batchSize
        var generated: Set<String> = []
        var evaluations: [(model: ModelSpec, attack: AttackSpec, node: String)] = []
        /// The generate stage of each adversarial set an attack makes against a model, by role.
        /// With `adding: false`, only the sets some evaluation already made (an analysis adds no attack stage).
        func sets(_ a: AttackSpec, against m: ModelSpec, adding: Bool = true) -> [AdversarialSetRole: String] {
            var sets: [AdversarialSetRole: String] = [:]
            for (threat, source) in Self.sources(of: a, against: m) {
                for epsilon in a.epsilons {
                    // One set per (attack, source, ε): the black-box source's sets serve every target.
                    let node = GenerateStage.node(a, source: source, epsilon: epsilon, batchSize: batch, origin: origin(a))
                    if adding, generated.insert(node.name).inserted { nodes.append(node) }
                    if generated.contains(node.name) { sets[AdversarialSetRole(threat, epsilon)] = node.name }
                }
            }
            return sets
        }
        /// Where an attack's `checkpoint:` choice was made, for the message when it names no output.
        func origin(_ a: AttackSpec) -> StageNode.Origin {
            StageNode.Origin(line: a.line, key: "attacks[\(p.attacks.firstIndex { $0.name == a.name } ?? 0)].checkpoint")
        }
        for a in p.attacks {
            for m in p.replicates where a.targets?.contains(m.row) ?? true {
                let node = EvaluateStage.node(a, target: m, sets: sets(a, against: m), batchSize: batch, origin: origin(a))
                nodes.append(node)
                evaluations.append((m, a, node.name))
            }
        }
        var analysisOutputs: [String: (node: String, output: String)] = [:]
        for (index, an) in p.analyses.enumerated() {
            let attack = an.activations.attack.flatMap { name in p.attacks.first { $0.name == name } }
            // The first seed of each model only: the activation analysis describes a defense, not its spread.
            for m in p.models.map({ $0.replicates[0] }) where an.models?.contains(m.row) ?? true {
                let made = attack.map { a in sets(a, against: m, adding: false) } ?? [:]
                let node = AnalyzeStage.node(an, model: m, attack: attack, sets: made,
                                             origin: .init(line: an.line, key: "analyses[\(index)].parameters.checkpoint"))
                nodes.append(node)
                for role in node.inputs.keys where role != "data" && role != "model" {
                    analysisOutputs["analysis/\(an.name)/\(m.name)/\(role)"] = (node.name, role)
                }
                analysisOutputs["analysis/\(an.name)/\(m.name)/clean"] = (node.name, "clean")
                analysisOutputs["analysis/\(an.name)/\(m.name)/landscape"] = (node.name, "landscape")
            }
        }
        if !evaluations.isEmpty {
            nodes.append(ReportStage.node(p, evaluations: evaluations, analyses: analysisOutputs))
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
        var made: [String: Set<String>] = [:]
        for node in nodes {
            for (role, source) in node.inputs.sorted(by: { $0.key < $1.key }) {
                let origin = node.origins[role]
                func fail(_ message: String) -> PipelineError {
                    PipelineError(file: file, line: origin?.line, key: origin?.key, "\(node.name): input '\(role)': \(message)")
                }
                guard let outputs = made[source.node] else { throw fail("no stage \(source.node) runs before it") }
                if !outputs.contains(source.output) {
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
