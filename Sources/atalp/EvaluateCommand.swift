import ArgumentParser
import Cluster
import Data
import Foundation
import NN
import Pipeline
import Robustness
import Store
import Tensors

/// `atalp evaluate CHECKPOINT`: clean and adversarial accuracy of a trained checkpoint on the
/// test set of any data source (Fashion-MNIST by default; `DataSourceOptions`) — white-box (PGD, FGSM, APGD-CE, APGD-T, Square), transfer from another
/// checkpoint (`--source`: gray- or black-box PGD), or on images given in a file (`--adversarial`) —
/// with the gradient-masking checks. `--json` prints one object a row, per-example outcomes included,
/// which the conformance suite (benchmarks/conformance) compares with PyTorch and torchattacks.
/// Under `mpirun` the ranks share each attack's batches (`BatchShards`: each batch attacked as one
/// process attacks it, its draws keyed by its index) and rank 0 scores and prints: the same numbers
/// and images for any number of ranks. A randomised attacker, whose noise is one stream across
/// batches, is attacked by rank 0 alone.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Clean and adversarial accuracy of a checkpoint (Fashion-MNIST or any data source): white-box attacks, transfer from a source, or given images.",
        discussion: """
            CHECKPOINT is a file written by `atalp train --output` or a checkpoint artifact of the store \
            (`atalp store ls --kind checkpoint`); its defense (randomised wrappers, ensembles, denoising \
            blocks) is rebuilt from its attributes. Randomised models are attacked with EOT and scored as \
            the mean over --inference-draws random draws. Attack semantics: docs/attacks.md.
            """)

    enum AttackName: String, ExpressibleByArgument, CaseIterable {
        case pgd, fgsm, apgdCE = "apgd-ce", apgdDLR = "apgd-dlr", apgdT = "apgd-t", square
    }

    @Argument(help: "A checkpoint file (atalp train --output, or a checkpoint artifact's .h5 in the store), or a PyTorch state dict (.safetensors, or HDF5 with PyTorch's names) with --architecture.")
    var checkpoint: String
    @OptionGroup(title: "Data") var data: DataSourceOptions
    @Option(help: "For a PyTorch state dict: its architecture (resnet20, resnet18-small, resnet50, …); channels and classes come from the data.")
    var architecture: String?
    @OptionGroup(title: "Defense of a PyTorch state dict (an atalp checkpoint says its own)") var defenseOptions: DefenseOptions
    @Option(help: "The attack: \(AttackName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var attack: AttackName = .pgd
    @Option(help: "Craft the attack on this checkpoint and score CHECKPOINT on the transfer set (gray- or black-box; PGD and FGSM only).")
    var source: String?
    @Option(help: "The threat model to record a transfer as: gray-box or black-box.")
    var threatModel: String = "gray-box"
    @Option(help: "Which iterate a transfer set keeps: \(TransferRule.allCases.map(\.rawValue).joined(separator: ", ")).")
    var transferRule: String = TransferRule.finalIterate.rawValue
    @Option(help: "Score CHECKPOINT on the images of this HDF5 file ('images' N×C×H×W or K×N×C×H×W float32 in [0, 1], 'labels' int32) instead of attacking.")
    var adversarial: String?
    @Option(parsing: .upToNextOption, help: "L∞ radii in [0, 1] pixel units.")
    var epsilon: [Float] = [0.1]
    @Option(help: "PGD step size (default 2.5·ε / the largest --iterations: ε/8 for 10 20).")
    var stepSize: Float?
    @Option(parsing: .upToNextOption, help: "Iteration counts to report (PGD, APGD) or query counts (Square); the attack runs to the largest.")
    var iterations: [Int] = [10, 20]
    @Option var restarts: Int = 1
    @Flag(help: "PGD starts at x itself, not at a uniform random point of the ε-ball.")
    var noRandomStart = false
    @Option(help: "APGD-T: target classes ranked 2…k+1 by the clean logits (AutoAttack: 9).")
    var targets: Int = 9
    @Option(help: "Random draws at inference that a randomised model's accuracy is the mean of (default: its defense's).")
    var inferenceDraws: Int?
    @Option(help: "Evaluate on only the first N test images.")
    var testLimit: Int?
    @Option var batchSize: Int = 250
    @Option var seed: UInt64 = 0
    @Option(help: "Write the adversarial images of the last ε to this HDF5 file (images, labels; PGD adds white_box_images).")
    var saveAdversarial: String?
    @Flag(help: "One JSON object a row (with per-example outcomes) instead of text.")
    var json = false
    @Flag(help: "Also attack at ε = 1 (every image reachable): accuracy must fall to about zero.")
    var largeEpsilonCheck = false

    func validate() throws {
        guard !epsilon.isEmpty, epsilon.allSatisfy({ $0 >= 0 }), !iterations.isEmpty, iterations.allSatisfy({ $0 >= 0 }) else {
            throw ValidationError("--epsilon needs values ≥ 0 and --iterations counts ≥ 0")
        }
        guard TransferRule(rawValue: transferRule) != nil else {
            throw ValidationError("--transfer-rule must be one of \(TransferRule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard ["gray-box", "black-box"].contains(threatModel) else { throw ValidationError("--threat-model must be gray-box or black-box") }
        if source != nil && ![.pgd, .fgsm].contains(attack) {
            throw ValidationError("--source takes pgd or fgsm: \(attack.rawValue) keeps each example's first success and makes no transfer set")
        }
        guard restarts >= 1, targets >= 1, batchSize >= 1, (inferenceDraws ?? 1) >= 1 else {
            throw ValidationError("--restarts, --targets, --batch-size and --inference-draws must be at least 1")
        }
    }

    func run() throws {
        let images = try data.load()
        let loaded = try load(checkpoint, images.test)
        let (model, defense, architecture) = (loaded.model, loaded.defense, loaded.architecture)
        var test = images.test.labeledImages
        guard test.images.shape[1] == architecture.inputChannels, images.test.classNames.count == architecture.classes else {
            throw ValidationError("\(checkpoint): the network takes \(architecture.inputChannels) channels and \(architecture.classes) classes; "
                                  + "\(images.name) has \(test.images.shape[1]) and \(images.test.classNames.count)")
        }
        if let testLimit { test = test.slice(0..<min(testLimit, test.count)) }
        let draws = inferenceDraws ?? defense.inferenceDraws
        let world = Communicator.world
        // The other ranks only attack their share of the batches (`attackRow`); rank 0 scores and prints.
        let clean = world.isLeader ? evaluatePerExample(model, on: test, draws: draws, seed: seed, batchSize: batchSize)
                                   : (accuracy: 0, perExample: [])
        if let adversarial, !world.isLeader { _ = adversarial; return }
        if !json && world.isLeader {
            print(String(format: "%@ (%@, defense %@): clean accuracy %.2f%% on %d test images", checkpoint, architecture.name,
                         defense.displayName, 100 * clean.accuracy, test.count))
        }
        if let adversarial {
            for (k, set) in try AdversarialImages.read(adversarial).enumerated() {
                let scored = evaluatePerExample(model, on: set, draws: draws, seed: seed, batchSize: batchSize)
                emit(Row(attack: "given", threatModel: "given", epsilon: nil, iterations: [k], accuracies: [scored.accuracy],
                         cleanAccuracy: clean.accuracy, examples: set.count, correct: scored.perExample))
            }
            return
        }
        var evaluations: [AttackEvaluation] = []
        for eps in epsilon {
            // Each ε attacks a freshly loaded attacker, as the pipeline's generate stages do (one per ε), so that
            // a randomised attacker's draws start where theirs do and the numbers agree.
            let attacker = try load(source ?? checkpoint, images.test)
            guard let row = try attackRow(model: model, attacker: attacker, data: test, epsilon: eps, draws: draws,
                                          clean: clean.accuracy, save: eps == epsilon.last ? saveAdversarial : nil) else { continue }
            emit(row)
            if row.threatModel == ThreatModel.whiteBox.rawValue && [.pgd, .fgsm].contains(attack) {
                evaluations.append(AttackEvaluation(threatModel: .whiteBox, epsilon: eps, stepSize: attack == .fgsm ? eps : stepSize ?? PGDConfiguration.defaultStepSize(epsilon: eps, iterations: iterations.max()!),
                                                    restarts: restarts,
                                                    iterations: row.iterations, accuracies: row.accuracies,
                                                    cleanAccuracy: clean.accuracy, examples: test.count))
            }
        }
        guard world.isLeader, source == nil, attack == .pgd else { return }
        var large: AttackEvaluation? = nil
        if largeEpsilonCheck {
            large = evaluatePGD(target: model, source: model, threatModel: .whiteBox, data: test,
                                attack: PGDConfiguration(epsilon: 1, stepSize: 0.1, iterations: 20), recordingAfter: [20],
                                batchSize: batchSize, seed: seed).evaluation
            if !json { print(String(format: "white-box ε=1 (PGD-20, step 0.1): %.2f%%", 100 * large!.finalAccuracy)) }
        }
        let checks = SanityChecks.run(evaluations, largeEpsilon: large, classes: architecture.classes)
        guard !json else { return }
        for w in SanityChecks.warnings(checks) { print(w) }
        if checks.allSatisfy(\.passed) { print("gradient-masking checks: all \(checks.count) passed") }
    }

    /// An atalp checkpoint as it says it is, or a PyTorch state dict as --architecture and --defense say.
    func load(_ path: String, _ data: ImageDataset) throws -> ModelCheckpoint {
        if ModelCheckpoint.isCheckpoint(path) {
            if defenseOptions.defense != nil || !defenseOptions.settings.isEmpty || architecture != nil {
                throw ValidationError("\(path) is an atalp checkpoint: it says its own architecture and defense (--architecture, --defense "
                                      + "and --set are for PyTorch state dicts)")
            }
            return try ModelCheckpoint.load(path)
        }
        guard let architecture else {
            throw ValidationError("\(path) is not an atalp checkpoint; a PyTorch state dict (.safetensors, or HDF5 with PyTorch's names) "
                                  + "needs --architecture (and --defense for a defended model)")
        }
        let configuration = try ResNetConfiguration.named(architecture, inputChannels: data.channels, classes: data.classNames.count)
        return try ModelCheckpoint.load(stateDict: path, architecture: configuration, defense: try defenseOptions.decode(command: "atalp evaluate"))
    }

    /// One attack at one ε over the test set, in batches (under MPI each rank attacks its share of
    /// them; nil on every rank but 0, which scores the gathered images).
    private func attackRow(model: any Classifier, attacker loaded: ModelCheckpoint, data: LabeledImages,
                           epsilon eps: Float, draws: Int, clean: Float, save: String?) throws -> Row? {
        let counts = Array(Set(attack == .fgsm ? [1] : iterations)).sorted()
        let attacker = loaded.model, attackerDefense = loaded.defense
        let rule = TransferRule(rawValue: transferRule)!
        let pgd = attackerDefense.evaluationAttack(attack == .fgsm
            ? PGDConfiguration.fgsm(epsilon: eps)
            : PGDConfiguration(epsilon: eps, stepSize: stepSize, iterations: counts.last!, randomStart: !noRandomStart,
                               restarts: restarts))
        // Per batch and recorded count: the images each example is scored on (white-box evidence or the
        // transfer set), and the transfer set.
        let world = Communicator.world
        let randomized = attacker is any RandomizedClassifier
        if world.isDistributed && randomized && !world.isLeader { return nil }
        let communicator = randomized ? Communicator.single : world
        let shards = BatchShards(count: data.count, batchSize: batchSize)
        let mine = shards.examples(ofBatches: shards.batches(rank: communicator.rank, of: communicator.size)).count
        var done = 0
        let bar = json || !world.isLeader ? nil : ProgressBar(label: String(format: "%@ ε=%g", attack.rawValue, eps))
        let batches = communicator.gatherBatches(shards, compute: { b -> BatchImages in
            let range = shards.examples(ofBatch: b)
            let x = data.images.rows(range), labels = Array(data.labels[range])
            var rng = SeededRandom.derived(seed: seed, stream: UInt64(b))
            var out = BatchImages()
            switch attack {
            case .pgd, .fgsm:
                let r = PGD.attack(attacker, images: x, labels: labels, configuration: pgd, rng: &rng, recordingAfter: counts, transferRule: rule)
                for k in counts {
                    out.scored[k] = source == nil ? r.whiteBoxAfter[k]! : r.transferAfter[k]!
                    out.transfer[k] = r.transferAfter[k]!
                }
            case .apgdCE, .apgdDLR, .apgdT:
                let loss: APGDConfiguration.Loss = attack == .apgdCE ? .crossEntropy : attack == .apgdDLR ? .dlr : .targetedDLR(targets: targets)
                let r = APGD.attack(attacker, images: x, labels: labels,
                                    configuration: APGDConfiguration(epsilon: eps, iterations: counts.last!, restarts: restarts, loss: loss,
                                                                     gradientSamples: pgd.gradientSamples), rng: &rng)
                out.scored[counts.last!] = r.adversarial
            case .square:
                let r = SquareAttack.attack(attacker, images: x, labels: labels,
                                            configuration: SquareAttackConfiguration(epsilon: eps, queries: counts.last!), rng: &rng)
                out.scored[counts.last!] = r.adversarial
            }
            done += range.count
            bar?.update(done, mine)
            return out
        }, encode: { $0.encode(into: &$1) }, decode: { BatchImages(from: &$0) })
        bar?.finish()
        guard let batches else { return nil }
        var scoredImages: [Int: [Tensor]] = [:], transferImages: [Int: [Tensor]] = [:]
        for batch in batches {
            for (k, t) in batch.scored { scoredImages[k, default: []].append(t) }
            for (k, t) in batch.transfer { transferImages[k, default: []].append(t) }
        }
        let recorded = scoredImages.keys.sorted()
        var accuracies: [Float] = [], correct: [Float] = []
        for k in recorded {
            let images = LabeledImages(images: Tensor.concatenatingRows(scoredImages[k]!), labels: data.labels)
            // White-box PGD: the evaluate stage's rule (a randomised target is also tried on the final iterates; docs/attacks.md).
            let scored = source == nil && [.pgd, .fgsm].contains(attack)
                ? evaluateWhiteBox(model, evidence: images, finalIterate: LabeledImages(images: Tensor.concatenatingRows(transferImages[k]!),
                                                                                         labels: data.labels),
                                   draws: draws, seed: seed, batchSize: batchSize)
                : evaluatePerExample(model, on: images, draws: draws, seed: seed, batchSize: batchSize)
            accuracies.append(scored.accuracy)
            correct = scored.perExample
        }
        if let save {
            let last = Tensor.concatenatingRows(scoredImages[recorded.last!]!)
            try AdversarialImages.write(to: save, images: [attack == .pgd || attack == .fgsm ? Tensor.concatenatingRows(transferImages[recorded.last!]!) : last],
                                        whiteBox: source == nil && (attack == .pgd || attack == .fgsm) ? [last] : nil, labels: data.labels,
                                        attributes: ["attack": attack.rawValue, "epsilon": "\(eps)", "transfer_rule": rule.rawValue,
                                                     "source": source == nil ? checkpoint : self.source!])
        }
        return Row(attack: attack.rawValue, threatModel: source == nil ? ThreatModel.whiteBox.rawValue : threatModel, epsilon: eps,
                   iterations: recorded, accuracies: accuracies, cleanAccuracy: clean, examples: data.count, correct: correct)
    }

    /// One attacked batch, per recorded count: the images scored and (PGD, FGSM) the transfer set.
    /// What a rank sends rank 0.
    struct BatchImages {
        var scored: [Int: Tensor] = [:]
        var transfer: [Int: Tensor] = [:]

        init() {}

        func encode(into p: inout Payload) {
            for images in [scored, transfer] {
                p.append(images.count)
                for (k, t) in images.sorted(by: { $0.key < $1.key }) { p.append(k); p.append(tensor: t) }
            }
        }

        init(from p: inout Payload) {
            func images() -> [Int: Tensor] {
                var out: [Int: Tensor] = [:]
                for _ in 0..<p.int() { let k = p.int(); out[k] = p.tensor() }
                return out
            }
            scored = images()
            transfer = images()
        }
    }

    /// One line of output.
    struct Row: Encodable {
        var attack: String
        var threatModel: String
        var epsilon: Float?
        var iterations: [Int]
        var accuracies: [Float]
        var cleanAccuracy: Float
        var examples: Int
        /// Per example after the whole attack: the share of inference draws that classified it correctly (0 or 1 for a deterministic model).
        var correct: [Float]
    }

    private func emit(_ row: Row) {
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = .sortedKeys
            print(String(decoding: try! encoder.encode(row), as: UTF8.self))
            return
        }
        let curve = zip(row.iterations, row.accuracies).map { String(format: "%@-%d %.2f%%", attack.rawValue.uppercased(), $0, 100 * $1) }
        let what = row.epsilon.map { String(format: "%@ ε=%g", row.threatModel, $0) } ?? "given images"
        print("\(what): \(curve.joined(separator: "  "))")
    }
}

