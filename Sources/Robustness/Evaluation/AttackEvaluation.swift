import Foundation
import Autodiff
import NN
import Tensors

/// Accuracy of a model on adversarial examples of one attack configuration, after each requested
/// iteration count: one point of the paper's Table 1 and one curve of its Figure 3.
public struct AttackEvaluation: Codable, Hashable, Sendable {
    public var threatModel: ThreatModel
    public var epsilon: Float
    public var stepSize: Float
    public var restarts: Int
    /// Iteration counts at which accuracy was recorded, ascending; the last is the attack's length.
    public var iterations: [Int]
    /// Accuracy of the evaluated model after each of `iterations`, same order.
    public var accuracies: [Float]
    public var cleanAccuracy: Float
    public var examples: Int
    /// Per recorded count (same order as `iterations`), per example: the share of inference draws
    /// that classified the adversarial image correctly — 0 or 1 for a deterministic model. What
    /// intervals and paired tests are computed from; nil where not recorded. Not part of the JSON
    /// encoding (artifacts store it as a dataset).
    public var perImage: [[Float]]?
    /// Per example, the same share on the clean image.
    public var cleanPerImage: [Float]?

    public init(threatModel: ThreatModel, epsilon: Float, stepSize: Float, restarts: Int, iterations: [Int], accuracies: [Float],
                cleanAccuracy: Float, examples: Int, perImage: [[Float]]? = nil, cleanPerImage: [Float]? = nil) {
        self.threatModel = threatModel; self.epsilon = epsilon; self.stepSize = stepSize; self.restarts = restarts
        self.iterations = iterations; self.accuracies = accuracies; self.cleanAccuracy = cleanAccuracy; self.examples = examples
        self.perImage = perImage; self.cleanPerImage = cleanPerImage
    }

    private enum CodingKeys: String, CodingKey {
        case threatModel, epsilon, stepSize, restarts, iterations, accuracies, cleanAccuracy, examples
    }

    /// Accuracy after the full attack.
    public var finalAccuracy: Float { accuracies.last ?? cleanAccuracy }

    /// The 95 % Wilson interval of the accuracy after the full attack, over the `examples` test
    /// images (the test-set sampling error; a randomised model's draw-averaged accuracy is treated
    /// as a proportion of the examples).
    public var finalInterval: ConfidenceInterval {
        ConfidenceInterval.wilson(proportion: Double(finalAccuracy), trials: examples)
    }
}

/// Evaluates `target` under PGD crafted on `source` over a whole data set, in batches.
///
/// White-box (`source === target`): an example counts as robust after k iterations if no iterate up
/// to k of any restart fooled the model (the attacker keeps what worked). Transfer (gray- and
/// black-box): the attacker cannot query the target, so it hands over one image per example, chosen
/// on its own model by `transferRule` (default: the final PGD iterate, as Madry et al. and the paper),
/// and the target is scored once on that set after each recorded iteration count (docs/attacks.md,
/// "Attack semantics").
/// Returns the evaluation and the final adversarial images (white-box: `AttackResult.adversarial`;
/// transfer: the transfer set after the whole attack; float32, never rounded to 8 bits).
public func evaluatePGD(target: any Classifier, source: any Classifier, threatModel: ThreatModel, data: LabeledImages,
                        attack: PGDConfiguration, recordingAfter checkpoints: [Int], transferRule: TransferRule = .finalIterate,
                        batchSize: Int = 256, seed: UInt64,
                        progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> (evaluation: AttackEvaluation, adversarial: Tensor) {
    let counts = Array(Set(checkpoints.filter { $0 <= attack.iterations } + [attack.iterations])).sorted()
    let whiteBox = source === target
    var robust = Dictionary(uniqueKeysWithValues: counts.map { ($0, [Bool]()) })
    var adversarialBatches: [Tensor] = []
    var start = 0, batchIndex: UInt64 = 0
    while start < data.count {
        let end = min(start + batchSize, data.count)
        let x = data.images.rows(start..<end), labels = Array(data.labels[start..<end])
        var rng = SeededRandom.derived(seed: seed, stream: batchIndex)
        let result = PGD.attack(source, images: x, labels: labels, configuration: attack, rng: &rng, recordingAfter: counts,
                                transferRule: transferRule)
        for k in counts {
            robust[k]! += whiteBox ? result.robustAfter[k]! : zip(predict(target, result.transferAfter[k]!), labels).map { $0 == $1 }
        }
        adversarialBatches.append(whiteBox ? result.adversarial : result.transferAfter[attack.iterations]!)
        start = end
        batchIndex += 1
        progress?(start, data.count)
    }
    let n = Float(max(data.count, 1))
    let clean = classifiedCorrectly(target, on: data, batchSize: batchSize)
    let evaluation = AttackEvaluation(threatModel: threatModel, epsilon: attack.epsilon, stepSize: attack.stepSize,
                                      restarts: attack.restarts, iterations: counts,
                                      accuracies: counts.map { Float(robust[$0]!.filter { $0 }.count) / n },
                                      cleanAccuracy: Float(clean.filter { $0 }.count) / n, examples: data.count,
                                      perImage: counts.map { robust[$0]!.map { $0 ? 1 : 0 } }, cleanPerImage: clean.map { $0 ? 1 : 0 })
    return (evaluation, Tensor.concatenatingRows(adversarialBatches))
}

/// Arg-max predictions of a model in evaluation mode.
public func predict(_ model: any Classifier, _ images: Tensor) -> [Int] {
    let tape = Tape()
    return model(tape.input(images, requiresGradient: false), mode: .evaluation).logits.value.argmaxPerRow()
}
