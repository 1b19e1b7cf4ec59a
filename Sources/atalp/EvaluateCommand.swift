import ArgumentParser
import Data
import Foundation
import NN
import Robustness
import Tensors

/// `atalp evaluate CHECKPOINT`: clean and white-box PGD accuracy of a trained checkpoint on the
/// Fashion-MNIST test set, after each requested iteration count, with the gradient-masking checks.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Clean and white-box PGD accuracy of a checkpoint on Fashion-MNIST, with gradient-masking checks.")

    @Argument(help: "A checkpoint written by `atalp train --output`.")
    var checkpoint: String
    @Option(help: "Directory with Fashion-MNIST's IDX files.")
    var dataDir: String = FashionMNIST.defaultDirectory
    @Option(parsing: .upToNextOption, help: "L∞ radii in [0, 1] pixel units.")
    var epsilon: [Float] = [0.1]
    @Option(help: "PGD step size (default ε/8).")
    var stepSize: Float?
    @Option(parsing: .upToNextOption, help: "Iteration counts to report; the attack runs to the largest.")
    var iterations: [Int] = [10, 20]
    @Option var restarts: Int = 1
    @Option(help: "Evaluate on only the first N test images.")
    var testLimit: Int?
    @Option var batchSize: Int = 250
    @Option var seed: UInt64 = 0
    @Flag(help: "Also attack at ε = 1 (every image reachable): accuracy must fall to about zero.")
    var largeEpsilonCheck = false

    func validate() throws {
        guard !epsilon.isEmpty, epsilon.allSatisfy({ $0 >= 0 }), !iterations.isEmpty, iterations.allSatisfy({ $0 >= 0 }) else {
            throw ValidationError("--epsilon needs values ≥ 0 and --iterations counts ≥ 0")
        }
    }

    func run() throws {
        let attributes = try Checkpoint.attributes(of: checkpoint)
        guard let json = attributes["architecture"]?.stringValue,
              let architecture = try? JSONDecoder().decode(ResNetConfiguration.self, from: Data(json.utf8)) else {
            throw ValidationError("\(checkpoint): no readable 'architecture' attribute (was it written by `atalp train --output`?)")
        }
        // Rebuild the model the defense trained (plain ResNet, denoising blocks, ensemble, randomised wrapper).
        let defense = attributes["defense_configuration"]?.stringValue
            .flatMap { try? JSONDecoder().decode(DefenseConfiguration.self, from: Data($0.utf8)) }
            ?? DefenseConfiguration(kind: .none)
        let model = defense.makeModel(architecture: architecture, seed: 0)
        try Checkpoint.load(into: model, from: checkpoint)
        var test = try FashionMNIST.load(directory: dataDir).test.labeledImages
        if let testLimit { test = test.slice(0..<min(testLimit, test.count)) }
        print(String(format: "%@ (%@, defense %@): clean accuracy %.2f%% on %d test images", checkpoint, architecture.name,
                     attributes["defense"]?.stringValue ?? "?", 100 * evaluateAccuracy(model, on: test), test.count))
        var evaluations: [AttackEvaluation] = []
        for eps in epsilon {
            // Randomised defenses are attacked with expectation over transformation (several draws per step).
            let attack = defense.evaluationAttack(PGDConfiguration(epsilon: eps, stepSize: stepSize ?? eps / 8,
                                                                   iterations: iterations.max()!, restarts: restarts))
            let bar = ProgressBar(label: String(format: "PGD ε=%g", eps))
            let e = evaluatePGD(target: model, source: model, threatModel: .whiteBox, data: test, attack: attack,
                                recordingAfter: iterations, batchSize: batchSize, seed: seed, progress: bar.update).evaluation
            bar.finish()
            evaluations.append(e)
            let curve = zip(e.iterations, e.accuracies).map { String(format: "PGD-%d %.2f%%", $0, 100 * $1) }.joined(separator: "  ")
            print(String(format: "white-box ε=%g (step %g, %d restart%@): %@", eps, attack.stepSize, restarts, restarts == 1 ? "" : "s", curve))
        }
        var large: AttackEvaluation? = nil
        if largeEpsilonCheck {
            large = evaluatePGD(target: model, source: model, threatModel: .whiteBox, data: test,
                                attack: PGDConfiguration(epsilon: 1, stepSize: 0.1, iterations: 20), recordingAfter: [20],
                                batchSize: batchSize, seed: seed).evaluation
            print(String(format: "white-box ε=1 (PGD-20, step 0.1): %.2f%%", 100 * large!.finalAccuracy))
        }
        let checks = SanityChecks.run(evaluations, largeEpsilon: large, classes: architecture.classes)
        for w in SanityChecks.warnings(checks) { print(w) }
        if checks.allSatisfy(\.passed) { print("gradient-masking checks: all \(checks.count) passed") }
    }
}

extension ImageDataset {
    /// Pixels scaled to [0, 1] with integer labels, as training and attacks consume them.
    var labeledImages: LabeledImages {
        LabeledImages(pixels: images, shape: [count, channels, height, width], labels: labels.map(Int.init))
    }
}
