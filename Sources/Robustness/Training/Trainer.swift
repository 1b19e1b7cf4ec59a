import Foundation
import Autodiff
import Cluster
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

/// Trains a classifier with a defense objective: per step, the training attack on the batch
/// (adversarial objectives: PGD or FGSM-RS, `Defense.trainingExamples`), the objective's loss in
/// training mode, backward, optimiser update. Free training (`TrainingAttackMethod.free(replays: m)`)
/// replays each batch m times instead, x′ = clip(x + δ, 0, 1), and updates δ from the input gradient
/// of the same backward pass.
///
/// Global step s reads batch b = ⌊s / m⌋ (m = 1 except for free training): batch b mod (steps per
/// epoch) of pass ⌊b / steps per epoch⌋'s shuffle, augmented by a random stream derived from (seed, b);
/// so a run restored at step s (weights, buffers, optimiser state) continues exactly as an
/// uninterrupted one would. Free training's δ is reset at every epoch boundary (every steps-per-epoch
/// optimiser steps), so that is exact for runs restored at an epoch end; restored mid-epoch, δ restarts at 0.
///
/// Data-parallel (`parallelism` over N > 1 ranks, e.g. under `mpirun`): every rank reads the same
/// global batch of `batchSize` images and draws its random numbers for the whole batch (augmentation,
/// PGD random starts) from the same stream, then keeps its contiguous share (`BatchSlice.share`),
/// makes its adversarial examples and gradients; the loss of each rank is weighted by its share of
/// the batch and the gradients summed with one MPI_Allreduce before every update, so every rank
/// applies the gradient of the global batch's mean loss and all hold the same weights. The file's
/// batch size and hyperparameters stay what they say. With `synchronizedBatchNorm` the batch-norm
/// statistics in training mode are the whole batch's (`synchronizedBatchNorm(_:…)`); without, each
/// rank normalises by its own slice and the running statistics are averaged over ranks after every
/// step. Randomised models (`RandomizedClassifier`) draw per forward pass on each rank's slice, so
/// their N-rank runs do not draw as one process does.
public final class Trainer {
    public let model: any Classifier
    public let configuration: TrainingConfiguration
    public let defense: Defense
    public let optimizer: any Optimizer
    /// Optimiser steps taken so far.
    public var step = 0
    /// Free training's perturbation δ (the batch's shape), carried across replays and batches; nil is 0.
    public var freePerturbation: Tensor?
    /// The ranks that train together, and how they share batch norm (one process by default).
    public var parallelism = DataParallelism()
    /// Seconds this trainer spent in gradient and statistics all-reductions (0 on one process).
    public private(set) var communicationSeconds = 0.0

    public init(model: any Classifier, configuration: TrainingConfiguration, defense: Defense) {
        if let (key, message) = defense.problem { preconditionFailure("invalid defense setting \(key): \(message)") }
        self.model = model
        self.configuration = configuration
        self.defense = defense
        optimizer = configuration.makeOptimizer(for: model.parameters)
    }

    public func stepsPerEpoch(examples: Int) -> Int { max(1, examples / configuration.batchSize) }

    /// One optimisation step on a batch (already augmented). With `slice`, `images` are this rank's rows
    /// of the global batch and `parallelism` the ranks that hold the others (see the type's comment).
    public func trainStep(images: Tensor, labels: [Int], learningRate: Float, rng: inout SeededRandom,
                          slice: BatchSlice? = nil) -> LossTerms {
        // A randomised model draws from the step's stream, so a resumed run repeats its noise.
        if let randomized = model as? any RandomizedClassifier { randomized.reseed(rng.next()) }
        if let (attack, method) = defense.trainingAttack, case .free = method {
            precondition(!parallelism.communicator.isDistributed, "free adversarial training is not data-parallel (refused before training)")
            return freeStep(images: images, labels: labels, attack: attack, learningRate: learningRate)
        }
        let adversarial = defense.trainingExamples(model: model, images: images, labels: labels, rng: &rng, slice: slice)
        let communicator = parallelism.communicator
        guard communicator.isDistributed, let slice else {
            let tape = Tape(recordsParameterGradients: true)
            let (loss, terms) = defense.loss(model: model, clean: images, adversarial: adversarial, labels: labels, tape: tape)
            tape.backward(from: loss)
            optimizer.step(learningRate: learningRate)
            return terms
        }
        // This rank's loss is the mean over its rows; weighted by its share, the sum over ranks is the
        // global batch's mean, and so is the sum of the weighted gradients.
        let share = Float(slice.rows.count) / Float(slice.total)
        let before = communicator.communicationSeconds
        let tape = Tape(recordsParameterGradients: true)
        var terms = LossTerms()
        BatchNormSynchronization.$communicator.withValue(parallelism.synchronizedBatchNorm ? communicator : nil) {
            let (loss, t) = defense.loss(model: model, clean: images, adversarial: adversarial, labels: labels, tape: tape)
            tape.backward(from: loss, seed: Tensor(shape: loss.value.shape, repeating: share))
            terms = t
        }
        allreduceGradients(communicator)
        if !parallelism.synchronizedBatchNorm { averageBuffers(communicator) }
        terms = Self.globalTerms(terms, share: share, communicator)
        communicationSeconds += communicator.communicationSeconds - before
        optimizer.step(learningRate: learningRate)
        return terms
    }

    /// One replay of free training (Shafahi et al. 2019, Algorithm 1): loss at x′ = clip(x + δ, 0, 1),
    /// one backward pass for both the optimiser step and ∇ₓ′ L, then δ ← clip(δ + step·sign(∇ₓ′ L), −ε, ε).
    func freeStep(images: Tensor, labels: [Int], attack: PGDConfiguration, learningRate: Float) -> LossTerms {
        let delta = freePerturbation.flatMap { $0.shape == images.shape ? $0 : nil } ?? Tensor(shape: images.shape, repeating: 0)
        let tape = Tape(recordsParameterGradients: true)
        let input = tape.input((images + delta).map { min(max($0, 0), 1) }, requiresGradient: true)
        let (loss, terms) = defense.loss(model: model, clean: images, adversarialInput: input, labels: labels, tape: tape)
        tape.backward(from: loss)
        optimizer.step(learningRate: learningRate)
        let e = attack.epsilon, s = attack.stepSize
        freePerturbation = delta.zipMap(input.gradient ?? Tensor(shape: images.shape, repeating: 0)) { d, g in
            min(max(d + (g > 0 ? s : (g < 0 ? -s : 0)), -e), e)
        }
        return terms
    }

    /// Σ over ranks of every parameter gradient, in one all-reduction over a flat buffer (the same
    /// parameters have gradients on every rank: the ranks run the same code on the same model).
    private func allreduceGradients(_ communicator: Communicator) {
        let withGradient = model.parameters.filter { $0.gradient != nil }
        var flat = [Float](); flat.reserveCapacity(withGradient.reduce(0) { $0 + $1.value.count })
        for p in withGradient { p.gradient!.withUnsafeBufferPointer { flat.append(contentsOf: $0) } }
        flat.withUnsafeMutableBufferPointer { communicator.allreduceSum($0) }
        var offset = 0
        for p in withGradient {
            let n = p.value.count
            p.gradient = Tensor(shape: p.value.shape, values: Array(flat[offset..<offset + n]))
            offset += n
        }
    }

    /// Local batch norm: every rank's running statistics replaced by their mean over ranks, so that the
    /// ranks keep the same buffers (float buffers only; `num_batches_tracked` is the same everywhere).
    private func averageBuffers(_ communicator: Communicator) {
        let buffers = model.buffers.filter { $0.value.count > 1 || !$0.name.hasSuffix("num_batches_tracked") }
        var flat = [Float]()
        for b in buffers { b.value.withUnsafeBufferPointer { flat.append(contentsOf: $0) } }
        flat.withUnsafeMutableBufferPointer { communicator.allreduceSum($0) }
        let scale = 1 / Float(communicator.size)
        var offset = 0
        for b in buffers {
            let n = b.value.count
            b.value = Tensor(shape: b.value.shape, values: flat[offset..<offset + n].map { $0 * scale })
            offset += n
        }
    }

    /// The loss terms of the global batch: each rank's, weighted by its share, summed over ranks.
    private static func globalTerms(_ t: LossTerms, share: Float, _ communicator: Communicator) -> LossTerms {
        let local = [t.total, t.crossEntropy, t.logitPairing, t.attentionPairing, t.gradientPenalty, t.ensembleEntropy,
                     t.logDeterminant, t.accuracy].map { Double($0 * share) }
        let g = communicator.allreduceSum(local).map { Float($0) }
        var terms = LossTerms()
        (terms.total, terms.crossEntropy, terms.logitPairing, terms.attentionPairing) = (g[0], g[1], g[2], g[3])
        (terms.gradientPenalty, terms.ensembleEntropy, terms.logDeterminant, terms.accuracy) = (g[4], g[5], g[6], g[7])
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
        let replays = defense.trainingAttack?.method.replays ?? 1
        while step < total {
            let epoch = step / perEpoch, batchIndex = step / replays
            let pass = batchIndex / perEpoch, position = batchIndex % perEpoch
            if pass != orderEpoch {
                var shuffle = SeededRandom.derived(seed: configuration.seed, stream: UInt64(pass) &+ 0xE90C)
                order = shuffle.permutation(data.count)
                orderEpoch = pass
            }
            if replays > 1 && step % perEpoch == 0 { freePerturbation = nil }
            var rng = SeededRandom.derived(seed: configuration.seed, stream: UInt64(batchIndex) &* 2 &+ 1)
            let indices = Array(order[position * batch..<(position + 1) * batch])
            var images = configuration.augmentation.apply(data.images.gatherRows(indices), rng: &rng)
            var labels = indices.map { data.labels[$0] }
            // Each replay of a batch sees the same augmented images and draws its own noise.
            if replays > 1 { rng = SeededRandom.derived(seed: configuration.seed, stream: (UInt64(step) &* 2 &+ 1) ^ 0xF4EE_0000_0000) }
            let lr = schedule.rate(at: step)
            var slice: BatchSlice?
            if parallelism.communicator.isDistributed {
                // Every rank augments the whole batch (the same draws as one process) and keeps its rows.
                let share = BatchSlice.share(of: batch, rank: parallelism.communicator.rank, ranks: parallelism.communicator.size)
                images = images.rows(share.rows)
                labels = Array(labels[share.rows])
                slice = share
            }
            let terms = trainStep(images: images, labels: labels, learningRate: lr, rng: &rng, slice: slice)
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
