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
    RandomizedAccuracy(perDraw: correctPerDraw(model, on: data, draws: draws, seed: seed, batchSize: batchSize)
        .map { Float($0.filter { $0 }.count) / Float(max(data.count, 1)) })
}

/// Per example, the share of `draws` random draws at inference (the draws of
/// `evaluateRandomizedAccuracy`) that classify it correctly: 0 or 1 for a deterministic model. The
/// mean over examples is `evaluateRandomizedAccuracy(…).mean`.
public func evaluatePerExample(_ model: any Classifier, on data: LabeledImages, draws: Int, seed: UInt64,
                               batchSize: Int = 256) -> (accuracy: Float, perExample: [Float]) {
    let perDraw = correctPerDraw(model, on: data, draws: draws, seed: seed, batchSize: batchSize)
    let share = (0..<data.count).map { i in Float(perDraw.filter { $0[i] }.count) / Float(perDraw.count) }
    let accuracy = perDraw.map { Float($0.filter { $0 }.count) / Float(max(data.count, 1)) }.reduce(0, +) / Float(perDraw.count)
    return (accuracy, share)
}

/// The white-box score of an attack after some iterations, the one rule of the evaluate stage and
/// `atalp evaluate`: per example, the model is scored on `evidence` (the first iterate that fooled
/// it). A randomised model was fooled by a first success on one draw only, so the attacker, who knows
/// the model, hands over whichever of `evidence` and `finalIterate` lowers the mean accuracy over
/// draws more (Athalye et al. 2018 score the final EOT-PGD iterate). Without `finalIterate`, or for a
/// deterministic model, the score is `evidence`'s.
public func evaluateWhiteBox(_ model: any Classifier, evidence: LabeledImages, finalIterate: LabeledImages?, draws: Int, seed: UInt64,
                             batchSize: Int = 256) -> (accuracy: Float, perExample: [Float]) {
    let scored = evaluatePerExample(model, on: evidence, draws: draws, seed: seed, batchSize: batchSize)
    guard model is any RandomizedClassifier, let finalIterate else { return scored }
    let final = evaluatePerExample(model, on: finalIterate, draws: draws, seed: seed, batchSize: batchSize)
    return final.accuracy < scored.accuracy ? final : scored
}

/// Per draw, per example: classified correctly (one draw for a deterministic model).
private func correctPerDraw(_ model: any Classifier, on data: LabeledImages, draws: Int, seed: UInt64, batchSize: Int) -> [[Bool]] {
    precondition(draws >= 1, "at least one draw")
    guard let randomized = model as? any RandomizedClassifier else { return [classifiedCorrectly(model, on: data, batchSize: batchSize)] }
    return (0..<draws).map { d in
        randomized.reseed(drawSeed(seed, d))
        return classifiedCorrectly(model, on: data, batchSize: batchSize)
    }
}

/// White-box PGD on a randomised model, evaluated honestly: the attack averages its gradient over
/// `attack.gradientSamples` draws per step (EOT; `Defense.evaluationAttack` sets it), and
/// accuracy is the mean over `draws` fresh draws at inference on whichever of the attack's two sets
/// lowers it more: per example the first iterate that fooled the model on the attack's draws, or the
/// final iterate (Athalye et al. 2018 score the final EOT-PGD iterate; a first success on one draw may
/// not fool the next). Returns clean and adversarial accuracy and the images of the stronger set.
public func evaluateRandomizedPGD(_ model: any Classifier, data: LabeledImages, attack: PGDConfiguration, draws: Int,
                                  seed: UInt64, batchSize: Int = 256)
    -> (clean: RandomizedAccuracy, adversarial: RandomizedAccuracy, images: Tensor) {
    let randomized = model as? any RandomizedClassifier
    randomized?.reseed(drawSeed(seed, -1))
    var firstSuccess: [Tensor] = [], finalIterate: [Tensor] = []
    var start = 0, batchIndex: UInt64 = 0
    while start < data.count {
        let end = min(start + batchSize, data.count)
        var rng = SeededRandom.derived(seed: seed, stream: batchIndex)
        let result = PGD.attack(model, images: data.images.rows(start..<end), labels: Array(data.labels[start..<end]),
                                configuration: attack, rng: &rng, recordingAfter: [attack.iterations])
        firstSuccess.append(result.adversarial)
        finalIterate.append(result.transferAfter[attack.iterations]!)
        start = end
        batchIndex += 1
    }
    let sets = [firstSuccess, finalIterate].map { data.count == 0 ? data.images : Tensor.concatenatingRows($0) }
    let scored = sets.map { evaluateRandomizedAccuracy(model, on: LabeledImages(images: $0, labels: data.labels), draws: draws,
                                                       seed: seed &+ 1, batchSize: batchSize) }
    let stronger = scored[1].mean < scored[0].mean ? 1 : 0
    return (evaluateRandomizedAccuracy(model, on: data, draws: draws, seed: seed, batchSize: batchSize), scored[stronger], sets[stronger])
}

private func drawSeed(_ seed: UInt64, _ d: Int) -> UInt64 {
    var r = SeededRandom.derived(seed: seed, stream: UInt64(bitPattern: Int64(d)) &+ 0xD4A3)
    return r.next()
}
