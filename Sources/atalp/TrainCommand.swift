import ArgumentParser
import Cluster
import Data
import Foundation
import NN
import Robustness
import Store
import Tensors

/// `atalp train`: trains a ResNet on any data source a pipeline takes (Fashion-MNIST by default) with any defense and reports clean test accuracy
/// after every epoch. The pipeline (`atalp run`) does the same as one of its stages. The options are
/// the pipeline file's keys: they are gathered into the same settings and decoded by the same codec
/// (`Defense(from:)`, `TrainingConfiguration(from:)`), so defaults, checks and error messages are the
/// pipeline's, and the checkpoint is the pipeline's format (`ModelCheckpoint`).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a ResNet with a defense of Table 1 and report test accuracy (Fashion-MNIST, or any data source).",
        discussion: """
            Unset options take the defaults of the pipeline file (README, "Settings"). Settings of a \
            defense without an option of their own are given as the pipeline file writes them: \
            --set noise_scale=0.1 --set denoising_groups=1,2.
            """)

    @OptionGroup(title: "Data") var data: DataSourceOptions
    @Option(help: "Architecture: resnet20, resnet32, resnet44, resnet56, resnet18-small, or resnet18/34/50/101/152.")
    var model: String = "resnet20"
    @OptionGroup(title: "Defense") var defenseOptions: DefenseOptions
    @Option(help: "Training attack: L∞ radius in [0, 1] pixel units (default \(PGDConfiguration.Defaults.epsilon)).")
    var epsilon: Double?
    @Option(help: "Training attack: PGD step size (default 2.5·ε/iterations).")
    var stepSize: Double?
    @Option(help: "Training attack: PGD iterations (default \(PGDConfiguration.Defaults.iterations)).")
    var attackIterations: Int?
    @Option(help: "Training attack method: pgd (its iterations), fgsm (FGSM-RS: one step of 1.25·ε from a random start, Wong et al. 2020) or free (free adversarial training, Shafahi et al. 2019) (default pgd).")
    var attackMethod: TrainingAttackMethod.Kind?
    @Option(help: "Free training: replays m of each batch (default \(TrainingAttackMethod.Defaults.replays)); the data is passed over epochs/m times.")
    var replays: Int?
    @Flag(inversion: .prefixedNo, help: "Training attack: start from a random point of the ε-ball (default on; pgd and fgsm).")
    var attackRandomStart: Bool?
    @Option(help: "Weight α of the logit-pairing term (alp, atalp; default \(AdversarialObjective.Defaults.alpha)).")
    var alpha: Double?
    @Option(help: "Weight β of the attention term (at, atalp; default \(AdversarialObjective.Defaults.beta)).")
    var beta: Double?
    @Option(help: "Epochs (default \(TrainingConfiguration.Defaults.epochs)).")
    var epochs: Int?
    @Option(help: "Batch size (default \(TrainingConfiguration.Defaults.batchSize)).")
    var batchSize: Int?
    @Option(help: "Peak learning rate (SGD with Nesterov momentum \(TrainingConfiguration.Defaults.momentum), cosine decay; default \(TrainingConfiguration.Defaults.learningRate)).")
    var learningRate: Double?
    @Option(help: "Weight decay (default \(TrainingConfiguration.Defaults.weightDecay)).")
    var weightDecay: Double?
    @Option(help: "Random-crop padding in pixels (default \(TrainingConfiguration.Defaults.cropPadding): no crop).")
    var cropPadding: Int?
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips (default off).")
    var flip: Bool?
    @Option(help: "Train on only the first N training images.")
    var trainLimit: Int?
    @Option(help: "Evaluate on only the first N test images.")
    var testLimit: Int?
    @Option var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Batch norm in data-parallel training under mpirun: sync (the whole global batch's statistics, the default) or local.", valueName: "MODE"))
    var batchNorm: String = "sync"
    @Option(help: "Write the final checkpoint (HDF5) here.")
    var output: String?

    /// The defense as the options give it, through the pipeline's codec.
    func defenseSettings() throws -> Defense {
        var p: [String: ParameterValue] = [:]
        var attack: [String: ParameterValue] = [:]
        if let epsilon { attack["epsilon"] = .double(epsilon) }
        if let stepSize { attack["step_size"] = .double(stepSize) }
        if let attackIterations { attack["iterations"] = .int(Int64(attackIterations)) }
        if let attackMethod { attack["method"] = .string(attackMethod.rawValue) }
        if let replays { attack["replays"] = .int(Int64(replays)) }
        if let attackRandomStart { attack["random_start"] = .bool(attackRandomStart) }
        if !attack.isEmpty { p["attack"] = .object(attack) }
        if let alpha { p["alpha"] = .double(alpha) }
        if let beta { p["beta"] = .double(beta) }
        return try defenseOptions.decode(p, command: "atalp train")
    }

    func trainingSettings() throws -> TrainingConfiguration {
        var p: [String: ParameterValue] = [:]
        if let epochs { p["epochs"] = .int(Int64(epochs)) }
        if let batchSize { p["batch_size"] = .int(Int64(batchSize)) }
        if let learningRate { p["learning_rate"] = .double(learningRate) }
        if let weightDecay { p["weight_decay"] = .double(weightDecay) }
        if let cropPadding { p["crop_padding"] = .int(Int64(cropPadding)) }
        if let flip { p["flip"] = .bool(flip) }
        return try settingsError {
            let f = try ParameterFields(.object(p), source: "atalp train")
            var c = try TrainingConfiguration(from: f)
            try f.finish()
            c.seed = seed
            return c
        }
    }

    private func settingsError<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SettingsError { throw ValidationError(e.description) }
    }

    func validate() throws {
        _ = try defenseSettings()
        _ = try trainingSettings()
        guard (try? architecture(channels: 1, classes: 2)) != nil else { throw ValidationError("unknown model '\(model)'") }
        guard ["sync", "local"].contains(batchNorm) else { throw ValidationError("--batch-norm must be 'sync' or 'local', not '\(batchNorm)'") }
    }

    func architecture(channels: Int, classes: Int) throws -> ResNetConfiguration {
        try ResNetConfiguration.named(model, inputChannels: channels, classes: classes)
    }

    func run() throws {
        let objective = try defenseSettings(), config = try trainingSettings()
        // Under mpirun: data-parallel over every rank (the same global batch and hyperparameters);
        // rank 0 prints and writes the checkpoint. Otherwise one process.
        let world = Communicator.world
        func print(_ text: String) { if world.isLeader { Swift.print(text) } }
        let loadStart = Date()
        let source = try data.load()
        var train = source.train.labeledImages, test = source.test.labeledImages
        if let trainLimit { train = train.slice(0..<min(trainLimit, train.count)) }
        if let testLimit { test = test.slice(0..<min(testLimit, test.count)) }
        print(String(format: "%@: %d training, %d test images (%.1f s to load)", source.name, train.count, test.count,
                     Date().timeIntervalSince(loadStart)))

        let architecture = try architecture(channels: source.train.channels, classes: source.train.classNames.count)
        // The defense decides the model: a plain ResNet, one with denoising blocks, an ensemble, or a randomised wrapper.
        let network = objective.makeModel(architecture: architecture, seed: seed)
        guard min(config.batchSize, train.count) >= world.size else {
            throw ValidationError("a batch of \(min(config.batchSize, train.count)) images cannot be split over \(world.size) ranks")
        }
        if world.isDistributed, let (_, method) = objective.trainingAttack, method.replays > 1 {
            throw ValidationError("free adversarial training is not data-parallel yet (its perturbation δ is carried per rank): run it on one process")
        }
        let trainer = Trainer(model: network, configuration: config, defense: objective)
        trainer.parallelism = DataParallelism(communicator: world, synchronizedBatchNorm: batchNorm == "sync")
        let attack = objective.trainingAttack.map { ", " + $0.method.describe($0.attack) } ?? ""
        print("\(architecture.name) (\(network.parameterCount) parameters), defense \(objective.displayName)\(attack), "
              + "\(config.epochs) epochs of \(trainer.stepsPerEpoch(examples: train.count)) steps, batch \(config.batchSize), \(Parallel.threadCount) threads"
              + (world.isDistributed ? " per rank × \(world.size) ranks (\(batchNorm) batch norm)" : ""))

        let reporter = TrainingReporter(label: "train")
        let started = Date()
        var lastAccuracy: Float = 0
        trainer.run(on: train, onStep: { if world.isLeader { reporter.step($0) } }) { epoch in
            lastAccuracy = evaluateAccuracy(network, on: test)
            if world.isLeader { reporter.line(String(format: "epoch %d/%d: clean test accuracy %.2f%%  (%@ elapsed)", epoch + 1, config.epochs,
                                 100 * lastAccuracy, duration(Date().timeIntervalSince(started)))) }
            return true
        }
        print(String(format: "clean test accuracy: %.2f%% on %d test images of %@ after %d epochs (%@)",
                     100 * lastAccuracy, test.count, source.name, config.epochs, duration(Date().timeIntervalSince(started))))
        if world.isDistributed {
            print(String(format: "communication: %.2f s in all-reductions on rank 0 (%.1f ms per step)", trainer.communicationSeconds,
                         1000 * trainer.communicationSeconds / Double(max(trainer.step, 1))))
        }
        if let output, world.isLeader {
            try ModelCheckpoint.save(network, optimizer: trainer.optimizer, architecture: architecture, defense: objective,
                                     attributes: ["epochs": .int(Int64(config.epochs)), "seed": .int(Int64(seed)),
                                                  "test_accuracy": .double(Double(lastAccuracy))], to: output)
            print("checkpoint written to \(output)")
        }
    }
}
