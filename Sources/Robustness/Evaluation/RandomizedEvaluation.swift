import Autodiff
import NN
import Tensors

/// Accuracy of a randomised model as the mean over independent random draws at inference, with the
/// accuracy of each draw (draw d reseeds the model from (seed, d)). A deterministic model gives the
/// same number for every draw.
public struct RandomizedAccuracy: Codable, Hashable, Sendable {
    public var mean: Float
    public var perDraw: [Float]
    /// Population standard deviation over the draws.
    public var standardDeviation: Float

    public init(perDraw: [Float]) {
        precondition(!perDraw.isEmpty, "no draws")
        self.perDraw = perDraw
        let m = perDraw.reduce(0, +) / Float(perDraw.count)
        mean = m
        standardDeviation = (perDraw.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Float(perDraw.count)).squareRoot()
    }
}

/// Clean accuracy averaged over `draws` random draws of a randomised model (`RandomizedClassifier`);
/// for any other model one draw is taken (they would all agree).
public func evaluateRandomizedAccuracy(_ model: any Classifier, on data: LabeledImages, draws: Int, seed: UInt64,
                                       batchSize: Int = 256) -> RandomizedAccuracy {
    precondition(draws >= 1, "at least one draw")
    guard let randomized = model as? any RandomizedClassifier else {
        return RandomizedAccuracy(perDraw: [evaluateAccuracy(model, on: data, batchSize: batchSize)])
    }
    return RandomizedAccuracy(perDraw: (0..<draws).map { d in
        randomized.reseed(drawSeed(seed, d))
        return evaluateAccuracy(model, on: data, batchSize: batchSize)
    })
}

/// White-box PGD on a randomised model, evaluated honestly: the attack averages its gradient over
/// `attack.gradientSamples` draws per step (EOT; `DefenseConfiguration.evaluationAttack` sets it),
/// and accuracy on the resulting adversarial examples (per example, the first iterate that fooled the
/// model on some draw, else the final one) is the mean over `draws` fresh draws at inference.
/// Returns clean and adversarial accuracy and the adversarial images.
public func evaluateRandomizedPGD(_ model: any Classifier, data: LabeledImages, attack: PGDConfiguration, draws: Int,
                                  seed: UInt64, batchSize: Int = 256)
    -> (clean: RandomizedAccuracy, adversarial: RandomizedAccuracy, images: Tensor) {
    let randomized = model as? any RandomizedClassifier
    randomized?.reseed(drawSeed(seed, -1))
    var batches: [Tensor] = []
    var start = 0, batchIndex: UInt64 = 0
    while start < data.count {
        let end = min(start + batchSize, data.count)
        var rng = SeededRandom.derived(seed: seed, stream: batchIndex)
        batches.append(PGD.attack(model, images: data.images.rows(start..<end), labels: Array(data.labels[start..<end]),
                                  configuration: attack, rng: &rng).adversarial)
        start = end
        batchIndex += 1
    }
    let images = data.count == 0 ? data.images : Tensor.concatenatingRows(batches)
    let adversarialData = LabeledImages(images: images, labels: data.labels)
    return (evaluateRandomizedAccuracy(model, on: data, draws: draws, seed: seed, batchSize: batchSize),
            evaluateRandomizedAccuracy(model, on: adversarialData, draws: draws, seed: seed &+ 1, batchSize: batchSize),
            images)
}

private func drawSeed(_ seed: UInt64, _ d: Int) -> UInt64 {
    var r = SeededRandom.derived(seed: seed, stream: UInt64(bitPattern: Int64(d)) &+ 0xD4A3)
    return r.next()
}
