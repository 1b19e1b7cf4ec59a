import Autodiff
import NN

/// How a model is trained: schedule, optimiser, batch, augmentation and seed. Every random draw of a
/// run (shuffles, augmentation, PGD random starts) derives from `seed`, so a run is reproducible and
/// can resume at any step.
public struct TrainingConfiguration: Codable, Hashable, Sendable {
    public enum OptimizerKind: String, Codable, Sendable { case sgd, adam }
    public enum ScheduleKind: String, Codable, Sendable { case cosine, step, constant }

    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var schedule: ScheduleKind
    /// Epoch fractions at which the step schedule multiplies the rate by `stepGamma` (e.g. [0.5, 0.75]).
    public var stepMilestones: [Double]
    public var stepGamma: Float
    public var warmupEpochs: Double
    public var optimizer: OptimizerKind
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float
    public var augmentation: Augmentation
    public var seed: UInt64

    public init(epochs: Int, batchSize: Int = 128, learningRate: Float = 0.1, schedule: ScheduleKind = .cosine,
                stepMilestones: [Double] = [0.5, 0.75], stepGamma: Float = 0.1, warmupEpochs: Double = 0,
                optimizer: OptimizerKind = .sgd, momentum: Float = 0.9, nesterov: Bool = true, weightDecay: Float = 5e-4,
                augmentation: Augmentation = Augmentation(), seed: UInt64 = 0) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate; self.schedule = schedule
        self.stepMilestones = stepMilestones; self.stepGamma = stepGamma; self.warmupEpochs = warmupEpochs
        self.optimizer = optimizer; self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
        self.augmentation = augmentation; self.seed = seed
    }

    public func makeOptimizer(for parameters: [Parameter]) -> any Optimizer {
        switch optimizer {
        case .sgd: SGD(parameters: parameters, momentum: momentum, nesterov: nesterov && momentum > 0, weightDecay: weightDecay)
        case .adam: Adam(parameters: parameters, weightDecay: weightDecay)
        }
    }

    public func schedule(stepsPerEpoch: Int) -> LearningRateSchedule {
        let total = epochs * stepsPerEpoch
        let warmup = Int(warmupEpochs * Double(stepsPerEpoch))
        let decay: LearningRateSchedule.Decay = switch schedule {
        case .cosine: .cosine(minimum: 0)
        case .constant: .constant
        case .step: .step(milestones: stepMilestones.map { Int($0 * Double(total)) }, gamma: stepGamma)
        }
        return LearningRateSchedule(base: learningRate, totalSteps: total, warmupSteps: warmup, decay: decay)
    }
}
