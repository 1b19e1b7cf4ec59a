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

    static func run(_ attack: AttackSpec, epsilon: Double, batchSize: Int, _ run: StageRun) throws -> [String: ArtifactID] {
        let data = try run.cache.dataset(try run.input("data"), in: run.store)
        let test = data.test.prefix(attack.examples).labeled
        let (source, sourceDefense) = try PipelineModels.load(try run.input("source"), in: run.store)
        // Randomised sources are attacked with expectation over transformation (EOT) unless the attack opts out.
        let plain = attack.configuration(epsilon: epsilon)
        let configuration = attack.eot ? sourceDefense.evaluationAttack(plain) : plain
        let counts = attack.iterations
        let generator: AttackKinds.Generator = attack.kind == "pgd" ? pgd(attack.transferRule) : attack.kind == "ensemble" ? ensemble : try {
            guard let g = AttackKinds.generator(attack.kind) else {
                throw PipelineError(file: run.node, "attack kind '\(attack.kind)' is not available in this build")
            }
            return g
        }()
        var perCount: [[Tensor]] = Array(repeating: [], count: counts.count)
        var whiteBoxPerCount: [[Tensor]] = Array(repeating: [], count: counts.count)
        var fooled = [Int](repeating: 0, count: counts.count), fooledOnImages = fooled
        var stages: [EnsembleResult.Stage] = []
        let started = Date()
        var start = 0, batchIndex: UInt64 = 0
        while start < test.count {
            let end = min(start + batchSize, test.count)
            let x = test.images.rows(start..<end), labels = Array(test.labels[start..<end])
            var rng = SeededRandom.derived(seed: attack.seed, stream: batchIndex)
            let result = generator(source, x, labels, configuration, counts, &rng)
            stages = merge(stages, result.stages, previous: start, batch: end - start)
            for (i, k) in counts.enumerated() {
                guard let images = result.images[k] else { throw PipelineError(file: run.node, "attack gave no images for \(k) iterations") }
                perCount[i].append(images)
                let onImages = zip(predict(source, images), labels).filter { $0 != $1 }.count
                fooledOnImages[i] += onImages
                if let whiteBox = result.whiteBoxImages?[k] {
                    whiteBoxPerCount[i].append(whiteBox)
                    fooled[i] += zip(predict(source, whiteBox), labels).filter { $0 != $1 }.count
                } else {
                    fooled[i] += onImages
                }
            }
            start = end
            batchIndex += 1
            run.progress.counting(run.node, done: start, total: test.count, unit: "images", started: started)
        }
        let n = test.count
        let stacked = Tensor.concatenatingRows(perCount.map { Tensor.concatenatingRows($0) })
        let whiteBox = whiteBoxPerCount.allSatisfy(\.isEmpty) ? nil : Tensor.concatenatingRows(whiteBoxPerCount.map { Tensor.concatenatingRows($0) })
        let (_, c, h, w) = test.images.nchw
        let rule = attack.kind == "pgd" ? attack.transferRule : .firstSuccess
        let id = try run.store.put(run.metadata(kind: "adversarial-set", formatVersion: formatVersion)) { wr in
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
        }
        return ["adversarial": id]
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
    static let ensemble: AttackKinds.Generator = { source, x, labels, attack, counts, rng in
        // AutoAttack's proportions: APGD runs the attack's length, Square 50 queries per APGD iteration
        // (100 and 5000 in the standard ensemble).
        let iterations = max(counts.last ?? 100, 1)
        var configuration = AttackEnsembleConfiguration.standard(epsilon: attack.epsilon, seed: rng.next(), iterations: iterations,
                                                                 squareQueries: 50 * iterations, batchSize: max(labels.count, 1))
        configuration.gradientSamples = attack.gradientSamples
        let result = AttackEnsemble.run(source, on: LabeledImages(images: x, labels: labels), configuration: configuration)
        return AttackKinds.AttackOutput(images: Dictionary(uniqueKeysWithValues: counts.map { ($0, result.adversarial) }), stages: result.stages)
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
    static func pgd(_ rule: TransferRule) -> AttackKinds.Generator {
        { source, x, labels, attack, counts, rng in
            let result = PGD.attack(source, images: x, labels: labels, configuration: attack, rng: &rng, recordingAfter: counts,
                                    transferRule: rule)
            return AttackKinds.AttackOutput(images: result.transferAfter, whiteBoxImages: rule == .firstSuccess ? nil : result.whiteBoxAfter)
        }
    }
}

/// evaluate: a target checkpoint + the adversarial sets of one attack (every threat model and ε) →
/// an evaluation artifact.
///
/// Evaluation layout (kind `evaluation`, format 2):
///
/// | path | type | shape | meaning |
/// |---|---|---|---|
/// | `accuracy` | float32 | R×K | accuracy of the target on adversarial set r after `iterations[k]` iterations |
/// | `epsilons` | float32 | R | ε of each row |
/// | `iterations` | int64 | K | iteration counts |
/// | `clean_accuracy` | float32 | scalar | accuracy on the same (clean) test images |
/// | `per_image` | float32 | R×K×N | per row, count and test image: the share of the target's inference draws that classify the adversarial image correctly (1 or 0 for a deterministic target); the mean over N is `accuracy` |
/// | `clean_per_image` | float32 | N | the same on the clean images |
///
/// Attributes: `threat_models` (string array, one per row), `evaluations` (JSON: the rows as
/// Robustness `AttackEvaluation`s), `sanity_checks` (JSON: `SanityCheck`s on them, the signs of
/// gradient masking), and for an attack ensemble `attack_stages` (JSON: white-box row → each member's
/// `EnsembleResult.Stage`, which the report's gradient-masking verdict reads).
enum EvaluateStage {
    /// 2: randomised targets are scored by the mean accuracy over inference draws.
    /// 3: white-box rows score `white_box_images`, transfer rows the transfer set (adversarial-set format 2).
    /// 4: per-image outcomes (`per_image`, `clean_per_image`; evaluation format 2).
    static let version = 4
    static let formatVersion = 2

    /// Input roles of the adversarial sets: `white-box@0.25`.
    static func role(_ threat: ThreatModel, _ epsilon: Double) -> String { "\(threat.rawValue)@\(epsilon)" }

    static func run(_ attack: AttackSpec, batchSize: Int, _ run: StageRun) throws -> [String: ArtifactID] {
        let (target, defense) = try PipelineModels.load(try run.input("model"), in: run.store)
        let data = try run.cache.dataset(try run.input("data"), in: run.store)
        let clean = data.test.prefix(attack.examples).labeled
        // A randomised target's accuracy is the mean over `inference_draws` random draws (the same
        // draws for every set, so rows differ only by their images); a deterministic target's, one pass.
        func accuracy(_ images: LabeledImages) -> (accuracy: Float, perExample: [Float]) {
            evaluatePerExample(target, on: images, draws: defense.inferenceDraws, seed: attack.seed, batchSize: batchSize)
        }
        let (cleanAccuracy, cleanPerImage) = accuracy(clean)
        // White-box: the first success per example (a deterministic target then scores exactly the
        // attack's own bookkeeping). A randomised target was fooled by a first success on one draw
        // only, so the attacker, who knows the model, hands over whichever of its two sets (first
        // success or final iterate) lowers the mean accuracy over draws more. Transfer: the transfer set.
        func score(_ set: GenerateStage.AdversarialSet, _ k: Int, _ threat: ThreatModel) -> (accuracy: Float, perExample: [Float]) {
            let transfer = accuracy(LabeledImages(images: set.images(afterRun: k), labels: set.labels))
            guard threat == .whiteBox, set.whiteBoxImages != nil else { return transfer }
            let firstSuccess = accuracy(LabeledImages(images: set.whiteBoxImages(afterRun: k), labels: set.labels))
            return target is any RandomizedClassifier && transfer.accuracy < firstSuccess.accuracy ? transfer : firstSuccess
        }
        var evaluations: [AttackEvaluation] = []
        var stagesByRow: [String: [EnsembleResult.Stage]] = [:]
        for threat in ThreatModel.allCases where attack.threatModels.contains(threat) {
            for epsilon in attack.epsilons {
                let id = try run.input(role(threat, epsilon))
                let set = try GenerateStage.read(id, in: run.store)
                // An ensemble's per-member accuracies are the target's own only when it was the source.
                if threat == .whiteBox, let stagesJSON = set.stagesJSON {
                    stagesByRow[role(threat, epsilon)] = try JSONDecoder().decode([EnsembleResult.Stage].self, from: Foundation.Data(stagesJSON.utf8))
                }
                let n = set.labels.count, counts = set.iterations
                let scored = counts.indices.map { score(set, $0, threat) }
                let accuracies = scored.map(\.accuracy)
                evaluations.append(AttackEvaluation(threatModel: threat, epsilon: Float(epsilon), stepSize: Float(attack.stepSize),
                                                    restarts: attack.restarts, iterations: counts, accuracies: accuracies,
                                                    cleanAccuracy: cleanAccuracy, examples: n, perImage: scored.map(\.perExample),
                                                    cleanPerImage: Array(cleanPerImage.prefix(n))))
                run.progress.line(String(format: "%@: %@ ε=%g: %.1f%% after %d iterations (clean %.1f%%)", run.node, threat.rawValue, epsilon,
                                         100 * (accuracies.last ?? 0), counts.last ?? 0, 100 * cleanAccuracy))
            }
        }
        let checks = SanityChecks.run(evaluations, classes: data.test.classNames.count)
        for warning in SanityChecks.warnings(checks) { run.progress.line("\(run.node): \(warning)") }
        let k = attack.iterations.count
        let id = try run.store.put(run.metadata(kind: "evaluation", formatVersion: formatVersion)) { w in
            try w.write("accuracy", float32: evaluations.flatMap(\.accuracies), shape: [evaluations.count, k])
            try w.write("epsilons", float32: evaluations.map(\.epsilon), shape: [evaluations.count])
            try w.write("iterations", int64: attack.iterations.map(Int64.init), shape: [k])
            try w.write("clean_accuracy", float32: [cleanAccuracy], shape: [])
            let n = evaluations.first?.examples ?? 0
            try w.write("per_image", float32: evaluations.flatMap { $0.perImage!.flatMap { $0 } }, shape: [evaluations.count, k, n])
            try w.write("clean_per_image", float32: Array(cleanPerImage.prefix(n)), shape: [n])
            try w.setAttribute("threat_models", .strings(evaluations.map(\.threatModel.rawValue)))
            try w.setAttribute("evaluations", .string(canonicalJSON(evaluations)))
            try w.setAttribute("sanity_checks", .string(canonicalJSON(checks)))
            if !stagesByRow.isEmpty { try w.setAttribute("attack_stages", .string(canonicalJSON(stagesByRow))) }
        }
        return ["evaluation": id]
    }

    /// The evaluations and checks stored in an evaluation artifact.
    static func read(_ id: ArtifactID, in store: ArtifactStore)
        throws -> (evaluations: [AttackEvaluation], checks: [SanityCheck], stages: [String: [EnsembleResult.Stage]]) {
        try store.read(id) { r in
            let decoder = JSONDecoder()
            let e = try decoder.decode([AttackEvaluation].self, from: Foundation.Data((try r.attribute("evaluations")?.stringValue ?? "[]").utf8))
            let c = try decoder.decode([SanityCheck].self, from: Foundation.Data((try r.attribute("sanity_checks")?.stringValue ?? "[]").utf8))
            let s = try decoder.decode([String: [EnsembleResult.Stage]].self,
                                       from: Foundation.Data((try r.attribute("attack_stages")?.stringValue ?? "{}").utf8))
            // Per-image outcomes (format 2 on): R×K×N and N.
            guard r.contains("per_image"), r.contains("clean_per_image") else { return (e, c, s) }
            let shape = try r.shape(of: "per_image"), values = try r.readFloat32("per_image"), clean = try r.readFloat32("clean_per_image")
            guard shape.count == 3, shape[0] == e.count else { return (e, c, s) }
            let (k, n) = (shape[1], shape[2])
            let withImages = e.enumerated().map { row, evaluation in
                var evaluation = evaluation
                evaluation.perImage = (0..<k).map { j in Array(values[(row * k + j) * n..<(row * k + j + 1) * n]) }
                evaluation.cleanPerImage = clean
                return evaluation
            }
            return (withImages, c, s)
        }
    }
}
