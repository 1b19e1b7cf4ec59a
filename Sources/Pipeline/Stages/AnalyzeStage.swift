import Analysis
import Cluster
import Foundation
import NN
import Robustness
import Store
import Tensors

/// analyze (the built-in `activations` kind), one model at a time: its checkpoint, the test set and
/// the adversarial sets an attack made against it → the artifacts Table 2, Figure 4 and Figure 6 are
/// drawn from, so that the report (and later `atalp analyze`) needs neither the model nor the data:
///
/// | output | kind | what |
/// |---|---|---|
/// | `clean` | `activation-stats` | attention maps of every group for the first N clean test images, their key-region masks, predictions, and the figure images' inputs |
/// | `<threat>@<ε>` (`white-box@0.1`, …) | `activation-stats` | the same for the adversarial set of that threat model and ε, after the attack's longest run (its `images`: the transfer set, i.e. the final PGD iterate by default, for every threat model) |
/// | `landscape` | `loss-landscape` | loss(x + a·sign(∇x loss) + b·Rademacher) on a grid, for the landscape images |
///
/// Layouts: `ActivationStatistics` and `LossLandscape` (module Analysis). Randomised defenses: a
/// noise-injecting model is analysed with its noise (reseeded, so the artifact is reproducible); a
/// random resize-and-pad model through its network alone, since its random geometry would misalign
/// the maps with the key-region masks. Under MPI every rank takes part: the images of each set are
/// sharded by batch (`batch_size`), the landscape by image, and the artifacts are the same bytes for
/// any number of ranks.
enum AnalyzeStage {
    static let version = 1

    /// `analyze:<analysis>:<model>`: the model's checkpoint, the test set and the sets `attack` made
    /// against it; key: kind, parameters, label.
    static func node(_ an: AnalysisSpec, model m: ModelSpec, attack: AttackSpec?, sets: [AdversarialSetRole: String],
                     origin: StageNode.Origin) -> StageNode {
        let spec = an.activations
        var inputs: [String: (node: String, output: String)] = ["data": ("preprocess", "dataset"),
                                                                 "model": ("train:\(m.name)", TrainStage.output(checkpoint: spec.checkpoint))]
        for (role, node) in sets { inputs[role.description] = (node, "adversarial") }
        return StageNode(name: "analyze:\(an.name):\(m.name)", stage: "analyze", version: version,
                         parameters: ["kind": .string(an.kind), "parameters": an.parameters, "label": .string(m.label)],
                         inputs: inputs, outputs: Set(sets.keys.map(\.description)).union(["clean", "landscape"]),
                         origins: ["model": origin]) { try run(spec, model: m, attack: attack, $0) }
    }

    static func run(_ spec: ActivationAnalysisSpec, model m: ModelSpec, attack: AttackSpec?, _ run: StageRun) throws -> [String: ArtifactID] {
        let data = try RankTimeline.span("load data") { try run.cache.dataset(try run.input("data"), in: run.store) }
        let test = data.test.prefix(spec.examples ?? attack?.examples ?? 200)
        let model = analysedNetwork(try RankTimeline.span("load model") { try ModelCheckpoint.load(try run.input("model"), in: run.store).model })
        let classes = data.test.classNames
        var outputs: [String: ArtifactID] = [:]
        let figureSets = spec.figureSets ?? defaultFigureSets(attack)
        // Under MPI the images of each set are sharded by batch and the landscape by image, as attacks
        // shard theirs (`BatchShards`): each batch's forward pass, and each image's landscape with its
        // draws keyed by the image's index, is what one process computes, and the leader assembles them
        // in order — the same bytes for any N. A noise-injecting model draws one stream across all
        // batches, so the leader analyses it alone.
        let randomized = model is any RandomizedClassifier
        if run.communicator.isDistributed && randomized && !run.isLeader { return [:] }
        let communicator = randomized ? Communicator.single : run.communicator
        let batchSize = spec.batchSize ?? ActivationAnalysisSpec.defaultBatchSize

        func analyse(_ images: LabeledImages, _ source: ActivationSource, role: String) throws {
            (model as? RandomizedClassifier)?.reseed(0)
            let subset = figureSets.contains(role) ? spec.figureImages : []
            let shards = BatchShards(count: images.count, batchSize: batchSize)
            let batches = communicator.gatherBatches(shards, compute: { b in
                let range = shards.examples(ofBatch: b)
                return RankTimeline.span("analysis batch", index: b) {
                    ActivationStatistics.batch(model, images: images.images.rows(range), first: range.lowerBound, subset: subset,
                                               keepActivations: spec.keepActivations, exponent: Float(spec.attentionExponent))
                }
            }, encode: { $0.encode(into: &$1) }, decode: { ActivationStatistics.Batch(from: &$0) })
            guard let batches else { return }   // not the leader: it writes
            let stats = ActivationStatistics(assembling: batches, data: images, source: source, masks: test.masks, subset: subset,
                                             keepActivations: spec.keepActivations, exponent: Float(spec.attentionExponent))
            outputs[role] = try RankTimeline.span("write \(role)") { try stats.put(in: run.store, metadata: run.metadata(kind: ActivationStatistics.kind)) }
            let correct = zip(stats.predictions, stats.labels).filter { $0 == $1 }.count
            let ratios = KeyRegionStatistics.row(stats).map { ", key-region ratio per group " + $0.ratio.map { String(format: "%.2f", $0) }.joined(separator: " ") } ?? ""
            run.progress.line(String(format: "%@: %@: accuracy %.1f%%", run.node, role, 100 * Double(correct) / Double(max(stats.count, 1))) + ratios)
        }

        try analyse(test.labeled, .clean(defense: m.label, classNames: classes), role: "clean")
        for role in run.inputs.keys.sorted() {
            guard let set = AdversarialSetRole(role) else { continue }
            let adversarial = try GenerateStage.read(try run.input(role), in: run.store)
            let images = adversarial.images(afterRun: adversarial.iterations.count - 1).rows(0..<min(test.count, adversarial.labels.count))
            try analyse(LabeledImages(images: images, labels: Array(adversarial.labels.prefix(images.shape[0]))),
                        .adversarial(defense: m.label, threatModel: set.threatModel.rawValue, epsilon: Float(set.epsilon), classNames: classes),
                        role: role)
        }

        (model as? RandomizedClassifier)?.reseed(0)
        let radius = spec.landscapeRadius ?? attack?.epsilons.max() ?? 0.25
        let clean = test.labeled
        let configuration = LossLandscapeConfiguration(radius: Float(radius), steps: spec.landscapeSteps)
        let indices = spec.landscapeImages
        let grids = communicator.gatherBatches(BatchShards(count: indices.count, batchSize: 1), compute: { k in
            RankTimeline.span("landscape image", index: k) {
                LossLandscape.grid(model, images: clean.images, labels: clean.labels, index: indices[k], configuration: configuration)
            }
        }, encode: { $1.append(tensor: $0) }, decode: { $0.tensor() })
        guard let grids else { return [:] }
        let landscape = LossLandscape(grids: grids, images: clean.images, labels: clean.labels, indices: indices, defense: m.label,
                                      configuration: configuration, classNames: classes)
        outputs["landscape"] = try landscape.put(in: run.store, metadata: run.metadata(kind: LossLandscape.kind))
        return outputs
    }

    /// Clean images and, as the paper's Figure 4, the gray-box set at the largest ε (else white-box).
    static func defaultFigureSets(_ attack: AttackSpec?) -> [String] {
        guard let a = attack, let epsilon = a.epsilons.max() else { return ["clean"] }
        let threat: ThreatModel = a.threatModels.contains(.grayBox) ? .grayBox : a.threatModels.contains(.whiteBox) ? .whiteBox : .blackBox
        return ["clean", AdversarialSetRole(threat, epsilon).description]
    }

    /// The network whose attention is analysed: the model itself, or for random resize-and-pad its network.
    static func analysedNetwork(_ model: any Classifier) -> any Classifier {
        (model as? RandomResizePadding)?.base ?? model
    }

}

/// What a rank sends the leader for one analysed batch.
extension ActivationStatistics.Batch {
    func encode(into p: inout Payload) {
        p.append(attention.count)
        for t in attention { p.append(tensor: t) }
        p.append(ints: predictions)
        p.append(kept.count)
        for t in kept { p.append(tensor: t) }
    }

    init(from p: inout Payload) {
        let attention = (0..<p.int()).map { _ in p.tensor() }
        let predictions = p.ints()
        self.init(attention: attention, predictions: predictions, kept: (0..<p.int()).map { _ in p.tensor() })
    }
}
