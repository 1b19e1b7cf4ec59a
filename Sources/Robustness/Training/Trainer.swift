import Foundation
import Autodiff
import NN
import Tensors

/// Where a training run stands, for progress displays and logs.
public struct TrainingProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    public var stepsPerEpoch: Int
    public var learningRate: Float
    public var terms: LossTerms
    public var imagesPerSecond: Double
    public var elapsedSeconds: Double
    public var etaSeconds: Double

    /// The step within its epoch, 1…`stepsPerEpoch`: progress lines count steps per epoch, as the
    /// "E epochs × S steps" a run announces, never the global `step` against one total.
    public var stepInEpoch: Int { step - epoch * stepsPerEpoch }
    /// Epochs in the whole run.
    public var epochs: Int { totalSteps / max(stepsPerEpoch, 1) }
}

/// Trains a classifier with a defense objective: per step, PGD on the batch (adversarial objectives),
/// the objective's loss in training mode, backward, optimiser update.
///
/// Global step s reads batch s mod (steps per epoch) of epoch ⌊s / steps per epoch⌋'s shuffle and uses
/// a random stream derived from (seed, s); so a run restored at step s (weights, buffers, optimiser
/// state) continues exactly as an uninterrupted one would.
public final class Trainer {
    public let model: any Classifier
    public let configuration: TrainingConfiguration
    public let defense: Defense
    public let optimizer: any Optimizer
    /// Optimiser steps taken so far.
    public var step = 0

    public init(model: any Classifier, configuration: TrainingConfiguration, defense: Defense) {
        if let (key, message) = defense.problem { preconditionFailure("invalid defense setting \(key): \(message)") }
        self.model = model
        self.configuration = configuration
        self.defense = defense
        optimizer = configuration.makeOptimizer(for: model.parameters)
    }

    public func stepsPerEpoch(examples: Int) -> Int { max(1, examples / configuration.batchSize) }

    /// One optimisation step on a batch (already augmented).
    public func trainStep(images: Tensor, labels: [Int], learningRate: Float, rng: inout SeededRandom) -> LossTerms {
        // A randomised model draws from the step's stream, so a resumed run repeats its noise.
        if let randomized = model as? any RandomizedClassifier { randomized.reseed(rng.next()) }
        let adversarial = defense.adversarialTraining.map {
            PGD.perturb(model, images: images, labels: labels, configuration: $0.attack, rng: &rng)
        }
        let tape = Tape(recordsParameterGradients: true)
        let (loss, terms) = defense.loss(model: model, clean: images, adversarial: adversarial, labels: labels, tape: tape)
        tape.backward(from: loss)
        optimizer.step(learningRate: learningRate)
        return terms
    }

    /// Trains from `step` to the end of the schedule. `onStep` sees every step's progress; `onEpochEnd`
    /// runs after each completed epoch (validation, checkpoints) and may return false to stop early.
    public func run(on data: LabeledImages, onStep: (TrainingProgress) -> Void = { _ in },
                    onEpochEnd: (_ epoch: Int) -> Bool = { _ in true }) {
        let perEpoch = stepsPerEpoch(examples: data.count)
        let total = configuration.epochs * perEpoch
        let schedule = configuration.schedule(stepsPerEpoch: perEpoch)
        let batch = min(configuration.batchSize, data.count)
        let started = Date()
        let firstStep = step
        var order: [Int] = []
        var orderEpoch = -1
        while step < total {
            let epoch = step / perEpoch, position = step % perEpoch
            if epoch != orderEpoch {
                var shuffle = SeededRandom.derived(seed: configuration.seed, stream: UInt64(epoch) &+ 0xE90C)
                order = shuffle.permutation(data.count)
                orderEpoch = epoch
            }
            var rng = SeededRandom.derived(seed: configuration.seed, stream: UInt64(step) &* 2 &+ 1)
            let indices = Array(order[position * batch..<(position + 1) * batch])
            let images = configuration.augmentation.apply(data.images.gatherRows(indices), rng: &rng)
            let lr = schedule.rate(at: step)
            let terms = trainStep(images: images, labels: indices.map { data.labels[$0] }, learningRate: lr, rng: &rng)
            step += 1
            let elapsed = Date().timeIntervalSince(started)
            let done = step - firstStep
            let rate = Double(done * batch) / max(elapsed, 1e-9)
            onStep(TrainingProgress(step: step, totalSteps: total, epoch: epoch, stepsPerEpoch: perEpoch, learningRate: lr,
                                    terms: terms, imagesPerSecond: rate, elapsedSeconds: elapsed,
                                    etaSeconds: elapsed / Double(done) * Double(total - step)))
            if step % perEpoch == 0 && !onEpochEnd(epoch) { return }
        }
    }
}
