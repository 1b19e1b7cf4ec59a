import Autodiff
import NN
import Store

/// How a model is trained: schedule, optimiser, batch, augmentation and seed. Every random draw of a
/// run (shuffles, augmentation, PGD random starts) derives from `seed`, so a run is reproducible and
/// can resume at any step. Rates and weights are held as written (Double) and narrowed to Float where
/// the optimiser uses them, so that a stage key holds the number a pipeline file says.
public struct TrainingConfiguration: Hashable, Sendable {
    public enum OptimizerKind: String, Sendable, CaseIterable { case sgd, adam }
    public enum ScheduleKind: String, Sendable, CaseIterable { case cosine, step, constant }

    /// The defaults, for `atalp train`, pipeline files and code alike.
    public enum Defaults {
        public static let epochs = 1
        public static let batchSize = 128
        /// Peak learning rate of SGD (He et al. 2016's 0.1 for ResNets on CIFAR).
        public static let learningRate = 0.1
        public static let schedule = ScheduleKind.cosine
        /// Epoch fractions at which the step schedule multiplies the rate by `stepGamma` (He et al.: 50 % and 75 %).
        public static let stepMilestones = [0.5, 0.75]
        public static let stepGamma = 0.1
        public static let warmupEpochs = 0.0
        public static let optimizer = OptimizerKind.sgd
        public static let momentum = 0.9
        public static let nesterov = true
        /// He et al.'s 1e-4 is for 64k steps of CIFAR; 5e-4 is the usual choice for short runs (Zagoruyko & Komodakis 2016).
        public static let weightDecay = 5e-4
        public static let cropPadding = 0
        /// Off: Fashion-MNIST's garments are not mirror-symmetric in every class.
        public static let horizontalFlip = false
    }

    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var schedule: ScheduleKind
    public var stepMilestones: [Double]
    public var stepGamma: Double
    public var warmupEpochs: Double
    public var optimizer: OptimizerKind
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    public var augmentation: Augmentation
    public var seed: UInt64

    public init(epochs: Int = Defaults.epochs, batchSize: Int = Defaults.batchSize, learningRate: Double = Defaults.learningRate,
                schedule: ScheduleKind = Defaults.schedule, stepMilestones: [Double] = Defaults.stepMilestones,
                stepGamma: Double = Defaults.stepGamma, warmupEpochs: Double = Defaults.warmupEpochs,
                optimizer: OptimizerKind = Defaults.optimizer, momentum: Double = Defaults.momentum, nesterov: Bool = Defaults.nesterov,
                weightDecay: Double = Defaults.weightDecay,
                augmentation: Augmentation = Augmentation(cropPadding: Defaults.cropPadding, horizontalFlip: Defaults.horizontalFlip),
                seed: UInt64 = 0) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate; self.schedule = schedule
        self.stepMilestones = stepMilestones; self.stepGamma = stepGamma; self.warmupEpochs = warmupEpochs
        self.optimizer = optimizer; self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
        self.augmentation = augmentation; self.seed = seed
    }

    public func makeOptimizer(for parameters: [Parameter]) -> any Optimizer {
        switch optimizer {
        case .sgd: SGD(parameters: parameters, momentum: Float(momentum), nesterov: nesterov && momentum > 0, weightDecay: Float(weightDecay))
        case .adam: Adam(parameters: parameters, weightDecay: Float(weightDecay))
        }
    }

    public func schedule(stepsPerEpoch: Int) -> LearningRateSchedule {
        let total = epochs * stepsPerEpoch
        let warmup = Int(warmupEpochs * Double(stepsPerEpoch))
        let decay: LearningRateSchedule.Decay = switch schedule {
        case .cosine: .cosine(minimum: 0)
        case .constant: .constant
        case .step: .step(milestones: stepMilestones.map { Int($0 * Double(total)) }, gamma: Float(stepGamma))
        }
        return LearningRateSchedule(base: Float(learningRate), totalSteps: total, warmupSteps: warmup, decay: decay)
    }
}

extension TrainingConfiguration {
    /// Reads a schedule's keys over `base` (a pipeline's top-level `training:` under a model's): each
    /// key present replaces the base's value. The seed is not a key here (it is the model's).
    public init(from f: any SettingsReader, over base: TrainingConfiguration = TrainingConfiguration()) throws {
        self = base
        if let v = try f.int("epochs", where: { $0 >= 1 }, "must be at least 1") { epochs = v }
        if let v = try f.int("batch_size", where: { $0 >= 2 }, "must be at least 2") { batchSize = v }
        if let v = try f.double("learning_rate", where: { $0 >= 0 }, "must be ≥ 0") { learningRate = v }
        if let v = try f.choice("schedule", ScheduleKind.self) { schedule = v }
        if let v = try f.doubles("step_milestones") {
            guard v.allSatisfy({ (0...1).contains($0) }) else { throw f.error("step_milestones", "epoch fractions lie in [0, 1]") }
            stepMilestones = v
        }
        if let v = try f.double("step_gamma", where: { $0 > 0 }, "must be > 0") { stepGamma = v }
        if let v = try f.double("warmup_epochs", where: { $0 >= 0 }, "must be ≥ 0") { warmupEpochs = v }
        if let v = try f.choice("optimizer", OptimizerKind.self) { optimizer = v }
        if let v = try f.double("momentum", where: { (0..<1).contains($0) }, "must lie in [0, 1)") { momentum = v }
        if let v = try f.bool("nesterov") { nesterov = v }
        if let v = try f.double("weight_decay", where: { $0 >= 0 }, "must be ≥ 0") { weightDecay = v }
        if let v = try f.int("crop_padding", where: { $0 >= 0 }, "must be ≥ 0") { augmentation.cropPadding = v }
        if let v = try f.bool("flip") { augmentation.horizontalFlip = v }
    }

    /// The schedule's keys (not the seed). `step_milestones`, `step_gamma` and `nesterov` only when not
    /// their defaults, so that keys made before they could be set stay the same.
    public var parameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = [
            "epochs": .int(Int64(epochs)), "batch_size": .int(Int64(batchSize)), "learning_rate": .double(learningRate),
            "schedule": .string(schedule.rawValue), "warmup_epochs": .double(warmupEpochs), "optimizer": .string(optimizer.rawValue),
            "momentum": .double(momentum), "weight_decay": .double(weightDecay), "crop_padding": .int(Int64(augmentation.cropPadding)),
            "flip": .bool(augmentation.horizontalFlip),
        ]
        if stepMilestones != Defaults.stepMilestones { p["step_milestones"] = .array(stepMilestones.map { .double($0) }) }
        if stepGamma != Defaults.stepGamma { p["step_gamma"] = .double(stepGamma) }
        if nesterov != Defaults.nesterov { p["nesterov"] = .bool(nesterov) }
        return p
    }
}
