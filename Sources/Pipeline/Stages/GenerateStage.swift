import Cluster
import Data
import Foundation
import NN
import Robustness
import Store
import Tensors

/// adversarial-generate: a source model + the test set → an adversarial set, reusable against any
/// model (gray- and black-box evaluation hand the same images to every target).
///
/// Adversarial-set layout (kind `adversarial-set`, format 2):
///
/// | path | type | shape | meaning |
/// |---|---|---|---|
/// | `images` | float32 | K×N×C×H×W | in [0, 1]; `images[k]` is what the attacker hands over to a model it cannot query after `iterations[k]` iterations, chosen per example by the attribute `transfer_rule` (PGD default `final-iterate`: iterate k of the highest-loss restart; never rounded to 8 bits) |
/// | `white_box_images` | float32 | K×N×C×H×W | PGD only: per example the first iterate ≤ k (of any restart) that fooled the source, else `images[k]`'s final iterate — the white-box evidence |
/// | `iterations` | int64 | K | the recorded iteration counts, ascending |
/// | `labels` | int32 | N | true labels of the attacked test images (the first N of the test split) |
/// | `source_accuracy` | float32 | K | the source model's white-box accuracy (on `white_box_images[k]`, else `images[k]`) |
/// | `source_accuracy_on_images` | float32 | K | the source model's accuracy on `images[k]` |
///
/// Attributes: `transfer_rule` (`final-iterate`, `max-loss`, `first-success`; an ensemble's set says
/// `first-success`: its images are each example's first fooling point, or x). An attack ensemble adds
/// `attack_stages` (JSON list of `EnsembleResult.Stage`: the source's robust accuracy after each member).
/// Provenance: `params` holds the attack (kind, ε, step size, iterations, restarts, random start,
/// examples, seed, batch size, transfer rule); `input_roles`/`input_ids` name the `source` checkpoint and the `data` set.
/// Format 1 (stage version 1) had no `white_box_images`, and `images` held the first success.
enum GenerateStage {
    /// 2: transfer sets are the final PGD iterate (`transfer_rule`), white-box evidence beside them.
    static let version = 2
    static let formatVersion = 2

    /// `attack:<attack>:<source>@<ε>`: one set per attack, source and ε; key: the attack's settings at ε
    /// (`AttackSpec.generateParameters`) and the batch size.
    static func node(_ a: AttackSpec, source: String, epsilon: Double, batchSize: Int, origin: StageNode.Origin) -> StageNode {
        StageNode(name: "attack:\(a.name):\(source)@\(epsilon)", stage: "adversarial-generate", version: version,
                  parameters: a.generateParameters(epsilon: epsilon).merging(["batch_size": .int(Int64(batchSize))]) { $1 },
                  inputs: ["source": ("train:\(source)", TrainStage.output(checkpoint: a.checkpoint)), "data": ("preprocess", "dataset")],
                  outputs: ["adversarial"], origins: ["source": origin]) {
            try run(a, epsilon: epsilon, batchSize: batchSize, $0)
        }
    }

    static func run(_ attack: AttackSpec, epsilon: Double, batchSize: Int, _ run: StageRun) throws -> [String: ArtifactID] {
        let data = try RankTimeline.span("load data") { try run.cache.dataset(try run.input("data"), in: run.store) }
        let test = data.test.prefix(attack.examples).labeled
        let loaded = try RankTimeline.span("load model") { try ModelCheckpoint.load(try run.input("source"), in: run.store) }
        let (source, sourceDefense) = (loaded.model, loaded.defense)
        // Randomised sources are attacked with expectation over transformation (EOT) unless the attack opts out.
        let plain = attack.configuration(epsilon: epsilon)
        let configuration = attack.eot ? sourceDefense.evaluationAttack(plain) : plain
        let counts = attack.iterations
        let generator: Generator = switch attack.kind {
        case .pgd: pgd(attack.transferRule)
        case .ensemble: ensemble
        }
        // Each batch is attacked as one process attacks it (its stream keyed by the batch index); under
        // MPI the ranks take contiguous blocks of batches and the leader combines them in batch order.
        // A randomised source (RAT, Randomization) draws its noise from one stream of its own across
        // all batches, which no rank but the first could start where one process has it: the leader
        // attacks it alone, so that its set too is the same bytes for any N.
        let randomized = source is any RandomizedClassifier
        if run.communicator.isDistributed && randomized && !run.isLeader { return [:] }
        let communicator = randomized ? Communicator.single : run.communicator
        let shards = BatchShards(count: test.count, batchSize: batchSize)
        let started = Date()
        var done = 0
        let attacked = try communicator.gatherBatches(shards, compute: { b -> BatchOutcome in
            let range = shards.examples(ofBatch: b)
            let x = test.images.rows(range), labels = Array(test.labels[range])
            var rng = SeededRandom.derived(seed: attack.seed, stream: UInt64(b))
            let batchStart = RankTimeline.now
            defer { RankTimeline.record("attack batch", index: b, since: batchStart) }
            let result = generator(source, x, labels, configuration, counts, &rng)
            var outcome = BatchOutcome(examples: range.count, stages: result.stages)
            for k in counts {
                guard let images = result.images[k] else { throw PipelineError(file: run.node, "attack gave no images for \(k) iterations") }
                outcome.images.append(images)
                let onImages = zip(predict(source, images), labels).filter { $0 != $1 }.count
                outcome.fooledOnImages.append(onImages)
                if let whiteBox = result.whiteBoxImages?[k] {
                    outcome.whiteBox.append(whiteBox)
                    outcome.fooled.append(zip(predict(source, whiteBox), labels).filter { $0 != $1 }.count)
                } else {
                    outcome.fooled.append(onImages)
                }
            }
            done += range.count
            run.progress.counting(run.node, done: done, total: shards.examples(ofBatches: shards.batches(rank: communicator.rank,
                                                                                                       of: communicator.size)).count,
                                  unit: "images", started: started)
            return outcome
        }, encode: { $0.encode(into: &$1) }, decode: { try BatchOutcome(from: &$0, counts: counts.count) })
        guard let attacked else { return [:] }   // not the leader: it writes the set
        var perCount: [[Tensor]] = Array(repeating: [], count: counts.count)
        var whiteBoxPerCount: [[Tensor]] = Array(repeating: [], count: counts.count)
        var fooled = [Int](repeating: 0, count: counts.count), fooledOnImages = fooled
        var stages: [EnsembleResult.Stage] = []
        var start = 0
        for outcome in attacked {
            stages = merge(stages, outcome.stages, previous: start, batch: outcome.examples)
            for i in counts.indices {
                perCount[i].append(outcome.images[i])
                fooledOnImages[i] += outcome.fooledOnImages[i]
                fooled[i] += outcome.fooled[i]
                if !outcome.whiteBox.isEmpty { whiteBoxPerCount[i].append(outcome.whiteBox[i]) }
            }
            start += outcome.examples
        }
        let n = test.count
        let stacked = Tensor.concatenatingRows(perCount.map { Tensor.concatenatingRows($0) })
        let whiteBox = whiteBoxPerCount.allSatisfy(\.isEmpty) ? nil : Tensor.concatenatingRows(whiteBoxPerCount.map { Tensor.concatenatingRows($0) })
        let (_, c, h, w) = test.images.nchw
        let rule = attack.kind == .pgd ? attack.transferRule : .firstSuccess
        let id = try RankTimeline.span("write set") { try run.store.put(run.metadata(kind: "adversarial-set", formatVersion: formatVersion)) { wr in
            try stacked.withUnsafeBufferPointer { try wr.write("images", float32: $0, shape: [counts.count, n, c, h, w]) }
            if let whiteBox {
                try whiteBox.withUnsafeBufferPointer { try wr.write("white_box_images", float32: $0, shape: [counts.count, n, c, h, w]) }
            }
            try wr.write("iterations", int64: counts.map(Int64.init), shape: [counts.count])
            try wr.write("labels", int32: test.labels.map(Int32.init), shape: [n])
            try wr.write("source_accuracy", float32: fooled.map { 1 - Float($0) / Float(max(n, 1)) }, shape: [counts.count])
            try wr.write("source_accuracy_on_images", float32: fooledOnImages.map { 1 - Float($0) / Float(max(n, 1)) }, shape: [counts.count])
            try wr.setAttribute("transfer_rule", .string(rule.rawValue))
            if !stages.isEmpty { try wr.setAttribute("attack_stages", .string(canonicalJSON(stages))) }
        } }
        return ["adversarial": id]
    }

    /// Crafts adversarial examples of one batch (images in [0, 1], N×C×H×W) against `source`, within
    /// `attack.epsilon` of the images: per recorded iteration count (or budget) k, the batch the
    /// attacker would hand over after k iterations.
    typealias Generator = @Sendable (_ source: any Classifier, _ images: Tensor, _ labels: [Int], _ attack: PGDConfiguration,
                                     _ recordingAfter: [Int], _ rng: inout SeededRandom) -> AttackOutput

    /// One batch's share of an adversarial set: per recorded count (in order) the images handed over,
    /// the white-box evidence (empty when the attack keeps none apart), and how many examples fooled
    /// the source on each; an ensemble's per-member stages. What ranks send the leader.
    struct BatchOutcome {
        var examples: Int
        var images: [Tensor] = []
        var whiteBox: [Tensor] = []
        var fooled: [Int] = []
        var fooledOnImages: [Int] = []
        var stages: [EnsembleResult.Stage]

        init(examples: Int, stages: [EnsembleResult.Stage]) { self.examples = examples; self.stages = stages }

        func encode(into p: inout Payload) {
            p.append(examples)
            p.append(images.count); p.append(whiteBox.count)
            for t in images + whiteBox { p.append(tensor: t) }
            for v in fooled + fooledOnImages { p.append(v) }
            p.append(string: canonicalJSON(stages))
        }

        init(from p: inout Payload, counts: Int) throws {
            examples = p.int()
            let (imageCount, whiteBoxCount) = (p.int(), p.int())
            images = (0..<imageCount).map { _ in p.tensor() }
            whiteBox = (0..<whiteBoxCount).map { _ in p.tensor() }
            fooled = (0..<counts).map { _ in p.int() }
            fooledOnImages = (0..<counts).map { _ in p.int() }
            stages = try JSONDecoder().decode([EnsembleResult.Stage].self, from: Foundation.Data(p.string().utf8))
        }
    }

    /// What a generator found on one batch.
    struct AttackOutput: Sendable {
        /// The adversarial batch after each recorded count: what the attacker hands over to any model
        /// (for PGD, the transfer set under the attack's `TransferRule`).
        var images: [Int: Tensor]
        /// White-box evidence after each recorded count when it differs from `images` (PGD: per example
        /// the first iterate that fooled the source); white-box evaluation scores these.
        var whiteBoxImages: [Int: Tensor]? = nil
        /// For attack ensembles: each member's share (robust accuracy of the source after it, on this batch).
        var stages: [EnsembleResult.Stage] = []
    }

    /// An adversarial-set artifact as stored.
    struct AdversarialSet {
        /// K×N×C×H×W: the transfer set.
        var images: Tensor
        /// K×N×C×H×W: the white-box evidence, when the attack kept it apart from `images`.
        var whiteBoxImages: Tensor?
        var iterations: [Int]
        var labels: [Int]
        /// The `attack_stages` attribute of an ensemble's set.
        var stagesJSON: String?

        /// N×C×H×W: what the attacker hands over to a model it cannot query after `iterations[k]` iterations.
        func images(afterRun k: Int) -> Tensor { Self.slice(images, k, n: labels.count) }

        /// N×C×H×W: the white-box evidence after `iterations[k]` iterations (`images` where none was kept).
        func whiteBoxImages(afterRun k: Int) -> Tensor { Self.slice(whiteBoxImages ?? images, k, n: labels.count) }

        private static func slice(_ t: Tensor, _ k: Int, n: Int) -> Tensor {
            let count = t.shape[0], inner = t.count / max(count * n, 1)
            return t.reshaped([count * n, inner]).rows(k * n..<(k + 1) * n).reshaped([n] + Array(t.shape.dropFirst(2)))
        }
    }

    static func read(_ id: ArtifactID, in store: ArtifactStore) throws -> AdversarialSet {
        try store.read(id) { r in
            AdversarialSet(images: Tensor(shape: try r.shape(of: "images"), values: try r.readFloat32("images")),
                           whiteBoxImages: r.contains("white_box_images")
                               ? Tensor(shape: try r.shape(of: "white_box_images"), values: try r.readFloat32("white_box_images")) : nil,
                           iterations: try r.readInt64("iterations").map(Int.init), labels: try r.readInt32("labels").map(Int.init),
                           stagesJSON: try r.attribute("attack_stages")?.stringValue)
        }
    }

    /// The AutoAttack-style ensemble (APGD-CE, APGD-T top-9, Square) on one batch; its final images
    /// stand for every recorded count.
    static let ensemble: Generator = { source, x, labels, attack, counts, rng in
        // AutoAttack's proportions: APGD runs the attack's length, Square 50 queries per APGD iteration
        // (100 and 5000 in the standard ensemble).
        let iterations = max(counts.last ?? 100, 1)
        var configuration = AttackEnsembleConfiguration.standard(epsilon: attack.epsilon, seed: rng.next(), iterations: iterations,
                                                                 squareQueries: 50 * iterations, batchSize: max(labels.count, 1))
        configuration.gradientSamples = attack.gradientSamples
        let result = AttackEnsemble.run(source, on: LabeledImages(images: x, labels: labels), configuration: configuration)
        return AttackOutput(images: Dictionary(uniqueKeysWithValues: counts.map { ($0, result.adversarial) }), stages: result.stages)
    }

    /// Ensemble stages over the examples so far, from those of `previous` examples and a new batch.
    static func merge(_ a: [EnsembleResult.Stage], _ b: [EnsembleResult.Stage], previous: Int, batch: Int) -> [EnsembleResult.Stage] {
        guard !a.isEmpty else { return b }
        guard a.count == b.count else { return a }
        return zip(a, b).map { x, y in
            EnsembleResult.Stage(name: x.name, usesGradients: x.usesGradients,
                                 robustAccuracy: (x.robustAccuracy * Float(previous) + y.robustAccuracy * Float(batch)) / Float(max(previous + batch, 1)),
                                 broken: x.broken + y.broken, attacked: x.attacked + y.attacked, skipped: x.skipped ?? y.skipped)
        }
    }

    /// PGD with the attacker's bookkeeping: after k iterations, per example, the transfer set under
    /// `rule` and the white-box evidence (the first iterate of any restart that fooled the source).
    static func pgd(_ rule: TransferRule) -> Generator {
        { source, x, labels, attack, counts, rng in
            let result = PGD.attack(source, images: x, labels: labels, configuration: attack, rng: &rng, recordingAfter: counts,
                                    transferRule: rule)
            return AttackOutput(images: result.transferAfter, whiteBoxImages: rule == .firstSuccess ? nil : result.whiteBoxAfter)
        }
    }
}
