import ArgumentParser
import Data
import Foundation
import NN
import Robustness
import Store
import Tensors

/// `atalp train`: trains a ResNet on Fashion-MNIST with a defense of the paper and reports clean test
/// accuracy after every epoch. The pipeline (`atalp run`) does the same as one of its stages.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a ResNet on Fashion-MNIST (no defense, PAT, ALP, AT or AT+ALP) and report test accuracy.")

    @Option(help: "Directory with Fashion-MNIST's IDX files.")
    var dataDir: String = FashionMNIST.defaultDirectory
    @Option(help: "Architecture: resnet20, resnet32, resnet44, resnet56, resnet18-small, or resnet18/34/50/101/152.")
    var model: String = "resnet20"
    @Option(help: "Defense: none, pat, alp, at, atalp, igr, rat, randomization, fd or adp (their other parameters at their defaults).")
    var defense: String = "none"
    @Option(help: "Training attack: L∞ radius in [0, 1] pixel units.")
    var epsilon: Float = 0.1
    @Option(help: "Training attack: PGD step size (default ε/4).")
    var stepSize: Float?
    @Option(help: "Training attack: PGD iterations.")
    var attackIterations: Int = 10
    @Option(help: "Weight of the logit-pairing term.")
    var alpha: Float = 0.5
    @Option(help: "Weight of the attention term.")
    var beta: Float = 1
    @Option var epochs: Int = 15
    @Option var batchSize: Int = 128
    @Option(help: "Peak learning rate (SGD with Nesterov momentum 0.9, cosine decay).")
    var learningRate: Float = 0.1
    @Option var weightDecay: Float = 5e-4
    @Option(help: "Random-crop padding in pixels (0: no crop).")
    var cropPadding: Int = 2
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips.")
    var flip = true
    @Option(help: "Train on only the first N training images.")
    var trainLimit: Int?
    @Option(help: "Evaluate on only the first N test images.")
    var testLimit: Int?
    @Option var seed: UInt64 = 0
    @Option(help: "Write the final checkpoint (HDF5) here.")
    var output: String?

    func validate() throws {
        guard DefenseConfiguration.Kind(rawValue: defense) != nil else {
            throw ValidationError("unknown defense '\(defense)': use \(DefenseConfiguration.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (try? architecture(channels: 1, classes: 10)) != nil else { throw ValidationError("unknown model '\(model)'") }
        guard epochs > 0, batchSize > 1, epsilon >= 0, attackIterations >= 0 else {
            throw ValidationError("--epochs and --attack-iterations must be positive, --batch-size at least 2, --epsilon ≥ 0")
        }
    }

    func architecture(channels: Int, classes: Int) throws -> ResNetConfiguration {
        try ResNetConfiguration.named(model, inputChannels: channels, classes: classes)
    }

    func run() throws {
        let loadStart = Date()
        let (trainSet, testSet) = try FashionMNIST.load(directory: dataDir)
        var train = trainSet.labeledImages, test = testSet.labeledImages
        if let trainLimit { train = train.slice(0..<min(trainLimit, train.count)) }
        if let testLimit { test = test.slice(0..<min(testLimit, test.count)) }
        print(String(format: "Fashion-MNIST: %d training, %d test images (%.1f s to load)", train.count, test.count,
                     Date().timeIntervalSince(loadStart)))

        let kind = DefenseConfiguration.Kind(rawValue: defense)!
        let attack = PGDConfiguration(epsilon: epsilon, stepSize: stepSize ?? epsilon / 4, iterations: attackIterations)
        let objective = DefenseConfiguration(kind: kind, alpha: alpha, beta: beta, attack: attack)
        let architecture = try architecture(channels: 1, classes: 10)
        // The defense decides the model: a plain ResNet, one with denoising blocks, an ensemble, or a randomised wrapper.
        let network = objective.makeModel(architecture: architecture, seed: seed)
        let config = TrainingConfiguration(epochs: epochs, batchSize: batchSize, learningRate: learningRate, weightDecay: weightDecay,
                                           augmentation: Augmentation(cropPadding: cropPadding, horizontalFlip: flip), seed: seed)
        let trainer = Trainer(model: network, configuration: config, defense: objective)
        print("\(architecture.name) (\(network.parameterCount) parameters), defense \(kind.rawValue)"
              + (kind == .none ? "" : ", PGD-\(attackIterations) ε=\(epsilon)") + ", \(epochs) epochs of \(trainer.stepsPerEpoch(examples: train.count)) steps, batch \(batchSize), \(Parallel.threadCount) threads")

        let reporter = TrainingReporter(label: "train")
        let started = Date()
        var lastAccuracy: Float = 0
        trainer.run(on: train, onStep: reporter.step) { epoch in
            lastAccuracy = evaluateAccuracy(network, on: test)
            reporter.line(String(format: "epoch %d/%d: clean test accuracy %.2f%%  (%@ elapsed)", epoch + 1, epochs,
                                 100 * lastAccuracy, duration(Date().timeIntervalSince(started))))
            return true
        }
        print(String(format: "clean test accuracy: %.2f%% on %d Fashion-MNIST test images after %d epochs (%@)",
                     100 * lastAccuracy, test.count, epochs, duration(Date().timeIntervalSince(started))))
        if let output {
            try Checkpoint.save(network, optimizer: trainer.optimizer, architecture: try jsonString(architecture),
                                metadata: ["defense": .string(defense), "defense_configuration": .string(try jsonString(objective)), "epochs": .int(Int64(epochs)), "seed": .int(Int64(seed)),
                                           "test_accuracy": .double(Double(lastAccuracy))], to: output)
            print("checkpoint written to \(output)")
        }
    }
}

func jsonString<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
