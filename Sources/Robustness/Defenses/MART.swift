import Autodiff
import NN
import Tensors

/// MART (Wang et al. 2020, "Improving Adversarial Robustness Requires Revisiting Misclassified
/// Examples", equation 10 and their `mart.py`):
///
///     L = (1/N)·Σᵢ [ BCE(p(x′ᵢ), yᵢ) + λ·KL(p(xᵢ) ‖ p(x′ᵢ))·(1 − p_yᵢ(xᵢ)) ]
///     BCE(p, y) = −log p_y − log(1 − max_{k≠y} p_k)        (the "boosted" cross-entropy)
///
/// p = softmax f; x′ by PGD on CE(f(x′), y) (the model in evaluation mode) from x + 0.001·N(0, 1) as
/// in their code (method `pgd` with `random_start`; uniform in the ε-ball for `fgsm`). As in their
/// code, log(1 − p) is log(1.0001 − p) and the weight 1 − p_y is 1.0000001 − p_y, and the gradient
/// reaches the clean branch through both the KL and the weight. λ = 6 is the value of their code
/// (`train_wideresnet.py`, `--beta 6.0`; the paper's λ).
public struct MARTObjective: Hashable, Sendable {
    public enum Defaults {
        /// λ (Wang et al.'s code).
        public static let lambda = 6.0
    }
    /// The inner maximisation (PGD on the cross-entropy).
    public var attack: PGDConfiguration
    public var method: TrainingAttackMethod
    /// Weight of the misclassification-weighted KL term, ≥ 0.
    public var lambda: Double

    public init(attack: PGDConfiguration = AdversarialObjective.defaultAttack, method: TrainingAttackMethod = .pgd,
                lambda: Double = Defaults.lambda) {
        self.attack = attack; self.method = method; self.lambda = lambda
    }

    public var problem: SettingProblem? { lambda < 0 ? ("mart_lambda", "must be ≥ 0") : nil }

    func loss(model: any Classifier, clean x: Tensor, adversarial: Variable, labels: [Int], tape: Tape) -> (Variable, LossTerms) {
        var terms = LossTerms()
        let clean = model(tape.input(x, requiresGradient: false), mode: .training).logits
        let adv = model(adversarial, mode: .training).logits
        let (total, ce, kl) = martLoss(clean: clean, adversarial: adv, labels: labels, lambda: Float(lambda))
        terms.crossEntropy = ce.value.scalar
        terms.divergence = kl.value.scalar
        terms.total = total.value.scalar
        terms.accuracy = accuracy(adv.value, labels)
        return (total, terms)
    }

    /// x′ for one batch: PGD on the cross-entropy from MART's start.
    func perturb(_ model: any Classifier, images x: Tensor, labels: [Int], rng: inout SeededRandom) -> Tensor {
        let c = attack
        let lower = x.map { max($0 - c.epsilon, 0) }, upper = x.map { min($0 + c.epsilon, 1) }
        var adv = trainingStart(x, c, method: method, sigma: TRADESObjective.Defaults.startStandardDeviation, lower: lower, upper: upper,
                                rng: &rng)
        for _ in 0..<c.iterations {
            let tape = Tape()
            let v = tape.input(adv, requiresGradient: true)
            tape.backward(from: softmaxCrossEntropy(model(v, mode: .evaluation).logits, labels: labels, reduction: .sum))
            PGD.signStep(&adv, gradient: v.gradient!, step: c.stepSize, lower: lower, upper: upper)
        }
        return adv
    }
}

/// MART's loss from the clean and adversarial logits (N×D): (total, boosted CE, weighted KL before λ).
/// The wrong class of the margin term is each row's most probable class other than its label.
public func martLoss(clean: Variable, adversarial: Variable, labels: [Int], lambda: Float) -> (total: Variable, boostedCE: Variable, weightedKL: Variable) {
    let tape = adversarial.recordingTape, d = adversarial.shape[1]
    let pAdv = softmax(adversarial)
    let wrong = pAdv.value.withUnsafeBufferPointer { p in
        labels.enumerated().map { i, y in
            (0..<d).filter { $0 != y }.max { p[i * d + $0] < p[i * d + $1] }!
        }
    }
    let pWrong = sumPerRow(pAdv * oneHot(wrong, classes: d, tape: tape))
    let margin = mean(log(pWrong * -1 + 1.0001)) * -1
    let boosted = softmaxCrossEntropy(adversarial, labels: labels) + margin
    let pTrue = sumPerRow(softmax(clean) * oneHot(labels, classes: d, tape: tape))
    let kl = mean(softmaxKLDivergencePerRow(clean, adversarial) * (pTrue * -1 + 1.0000001))
    return (boosted + kl * lambda, boosted, kl)
}
