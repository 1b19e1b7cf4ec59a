import Cluster
import Data
import Foundation
import NN
import Robustness
import Store
import Tensors

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

    /// `evaluate:<model>:<attack>`: the target's checkpoint and every set the attack made against it
    /// (input roles `<threat>@<ε>`); key: batch_size, examples, step_size, restarts.
    static func node(_ a: AttackSpec, target m: ModelSpec, sets: [AdversarialSetRole: String], batchSize: Int,
                     origin: StageNode.Origin) -> StageNode {
        var inputs: [String: (node: String, output: String)] = ["model": ("train:\(m.name)", TrainStage.output(checkpoint: a.checkpoint)),
                                                                 "data": ("preprocess", "dataset")]
        for (role, node) in sets { inputs[role.description] = (node, "adversarial") }
        return StageNode(name: "evaluate:\(m.name):\(a.name)", stage: "evaluate", version: version,
                         parameters: ["batch_size": .int(Int64(batchSize)), "examples": a.examples.map { .int(Int64($0)) } ?? .null,
                                      "step_size": a.stepSize.map { .double($0) } ?? .null, "restarts": .int(Int64(a.restarts))],
                         inputs: inputs, outputs: ["evaluation"], origins: ["model": origin]) { try run(a, batchSize: batchSize, $0) }
    }

    static func run(_ attack: AttackSpec, batchSize: Int, _ run: StageRun) throws -> [String: ArtifactID] {
        let loaded = try ModelCheckpoint.load(try run.input("model"), in: run.store)
        let (target, defense) = (loaded.model, loaded.defense)
        let data = try run.cache.dataset(try run.input("data"), in: run.store)
        let clean = data.test.prefix(attack.examples).labeled
        // Under MPI a deterministic target's examples are sharded by batch (`BatchShards`), each rank
        // classifying its batches as one process would, and the outcomes gathered in order. A
        // randomised target draws one stream across all batches of a pass, so the leader scores it alone.
        let randomized = target is any RandomizedClassifier
        let sharded = run.communicator.isDistributed && !randomized
        if run.communicator.isDistributed && randomized && !run.isLeader { return [:] }
        // A randomised target's accuracy is the mean over `inference_draws` random draws (the same
        // draws for every set, so rows differ only by their images); a deterministic target's, one pass.
        func accuracy(_ images: LabeledImages) -> (accuracy: Float, perExample: [Float]) {
            guard sharded else {
                return evaluatePerExample(target, on: images, draws: defense.inferenceDraws, seed: attack.seed, batchSize: batchSize)
            }
            let shards = BatchShards(count: images.count, batchSize: batchSize)
            let mine = shards.examples(ofBatches: shards.batches(rank: run.communicator.rank, of: run.communicator.size))
            var local = Payload()
            local.append(floats: evaluatePerExample(target, on: images.slice(mine), draws: 1, seed: attack.seed, batchSize: batchSize).perExample)
            let perExample = run.communicator.allgather(local.bytes).flatMap { bytes -> [Float] in
                var p = Payload(bytes: bytes)
                return p.floats()
            }
            // As `evaluatePerExample` for one draw: the share of correct examples.
            return (Float(perExample.filter { $0 == 1 }.count) / Float(max(images.count, 1)), perExample)
        }
        let (cleanAccuracy, cleanPerImage) = accuracy(clean)
        // White-box: the first success per example (a deterministic target then scores exactly the
        // attack's own bookkeeping). A randomised target was fooled by a first success on one draw
        // only, so the attacker, who knows the model, hands over whichever of its two sets (first
        // success or final iterate) lowers the mean accuracy over draws more. Transfer: the transfer set.
        func score(_ set: GenerateStage.AdversarialSet, _ k: Int, _ threat: ThreatModel) -> (accuracy: Float, perExample: [Float]) {
            let transfer = LabeledImages(images: set.images(afterRun: k), labels: set.labels)
            guard threat == .whiteBox, set.whiteBoxImages != nil else { return accuracy(transfer) }
            // A deterministic target is scored on the evidence alone (`evaluateWhiteBox`'s rule).
            if sharded { return accuracy(LabeledImages(images: set.whiteBoxImages(afterRun: k), labels: set.labels)) }
            return evaluateWhiteBox(target, evidence: LabeledImages(images: set.whiteBoxImages(afterRun: k), labels: set.labels),
                                    finalIterate: transfer, draws: defense.inferenceDraws, seed: attack.seed, batchSize: batchSize)
        }
        var evaluations: [AttackEvaluation] = []
        var stagesByRow: [String: [EnsembleResult.Stage]] = [:]
        for threat in ThreatModel.allCases where attack.threatModels.contains(threat) {
            for epsilon in attack.epsilons {
                let role = AdversarialSetRole(threat, epsilon).description
                let id = try run.input(role)
                let set = try GenerateStage.read(id, in: run.store)
                // An ensemble's per-member accuracies are the target's own only when it was the source.
                if threat == .whiteBox, let stagesJSON = set.stagesJSON {
                    stagesByRow[role] = try JSONDecoder().decode([EnsembleResult.Stage].self, from: Foundation.Data(stagesJSON.utf8))
                }
                let n = set.labels.count, counts = set.iterations
                let scored = counts.indices.map { score(set, $0, threat) }
                let accuracies = scored.map(\.accuracy)
                evaluations.append(AttackEvaluation(threatModel: threat, epsilon: Float(epsilon), stepSize: Float(attack.stepSize(epsilon: epsilon)),
                                                    restarts: attack.restarts, iterations: counts, accuracies: accuracies,
                                                    cleanAccuracy: cleanAccuracy, examples: n, perImage: scored.map(\.perExample),
                                                    cleanPerImage: Array(cleanPerImage.prefix(n))))
                run.progress.line(String(format: "%@: %@ ε=%g: %.1f%% after %d iterations (clean %.1f%%)", run.node, threat.rawValue, epsilon,
                                         100 * (accuracies.last ?? 0), counts.last ?? 0, 100 * cleanAccuracy))
            }
        }
        let checks = SanityChecks.run(evaluations, classes: data.test.classNames.count)
        for warning in SanityChecks.warnings(checks) { run.progress.line("\(run.node): \(warning)") }
        guard run.isLeader else { return [:] }   // the leader writes the evaluation
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
