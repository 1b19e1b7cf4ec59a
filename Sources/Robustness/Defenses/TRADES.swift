import Autodiff
import NN
import Tensors

/// TRADES (Zhang et al. 2019, "Theoretically Principled Trade-off between Robustness and Accuracy",
/// equation 5 and their `trades.py`):
///
///     L = CE(f(x), y) + β·(1/N)·Σᵢ KL(softmax f(xᵢ) ‖ softmax f(x′ᵢ))
///     x′ = argmax_{‖x′ − x‖∞ ≤ ε} KL(softmax f(x) ‖ softmax f(x′))
///
/// x′ by sign-gradient ascent on the KL (the model in evaluation mode, f(x) fixed) from the small
/// random start x + 0.001·N(0, 1) of their code (method `pgd` with `random_start`; x itself without),
/// projected onto the ε-ball and [0, 1] after every step. With method `fgsm` the one step starts
/// uniformly in the ε-ball (Wong et al.'s start); with `free` δ follows ∇ₓ′ of this loss (see
/// `TrainingAttackMethod`). β = 6 is the authors' CIFAR-10 value (`train_trades_cifar10.py`, and
/// 1/λ = 6 in their Table 5); their MNIST runs use β = 1.
public struct TRADESObjective: Hashable, Sendable {
    public enum Defaults {
        /// β (Zhang et al.'s CIFAR-10 setting).
        public static let beta = 6.0
        /// σ of the Gaussian start x + σ·N(0, 1) (their `0.001 * torch.randn`), pixel units.
        public static let startStandardDeviation: Float = 0.001
    }
    /// The inner maximisation's ε, step, iterations and start (its objective is the KL, not CE).
    public var attack: PGDConfiguration
    public var method: TrainingAttackMethod
    /// Weight of the KL term, ≥ 0.
    public var beta: Double

    public init(attack: PGDConfiguration = AdversarialObjective.defaultAttack, method: TrainingAttackMethod = .pgd,
                beta: Double = Defaults.beta) {
        self.attack = attack; self.method = method; self.beta = beta
    }

    public var problem: SettingProblem? { beta < 0 ? ("trades_beta", "must be ≥ 0") : nil }

    /// CE on the clean batch plus β times the mean KL to the adversarial batch; accuracy on x′.
    func loss(model: any Classifier, clean x: Tensor, adversarial: Variable, labels: [Int], tape: Tape) -> (Variable, LossTerms) {
        var terms = LossTerms()
        let clean = model(tape.input(x, requiresGradient: false), mode: .training).logits
        let adv = model(adversarial, mode: .training).logits
        let (total, ce, kl) = tradesLoss(clean: clean, adversarial: adv, labels: labels, beta: Float(beta))
        terms.crossEntropy = ce.value.scalar
        terms.divergence = kl.value.scalar
        terms.total = total.value.scalar
        terms.accuracy = accuracy(adv.value, labels)
        return (total, terms)
    }

    /// x′ for one batch: K sign steps ascending Σᵢ KL(softmax f(xᵢ) ‖ softmax f(x′ᵢ)) (the sum, as
    /// their `KLDivLoss(size_average=False)`; the sign makes the scale irrelevant).
    func perturb(_ model: any Classifier, images x: Tensor, rng: inout SeededRandom) -> Tensor {
        let c = attack
        let lower = x.map { max($0 - c.epsilon, 0) }, upper = x.map { min($0 + c.epsilon, 1) }
        let cleanTape = Tape()
        let target = model(cleanTape.constant(x), mode: .evaluation).logits.value
        var adv = trainingStart(x, c, method: method, sigma: Defaults.startStandardDeviation, lower: lower, upper: upper, rng: &rng)
        for _ in 0..<c.iterations {
            let tape = Tape()
            let v = tape.input(adv, requiresGradient: true)
            tape.backward(from: sum(softmaxKLDivergencePerRow(tape.constant(target), model(v, mode: .evaluation).logits)))
            PGD.signStep(&adv, gradient: v.gradient!, step: c.stepSize, lower: lower, upper: upper)
        }
        return adv
    }
}

/// TRADES's loss from the clean and adversarial logits (N×D): (total, CE on the clean logits, the
/// mean KL(softmax clean ‖ softmax adversarial) before β).
public func tradesLoss(clean: Variable, adversarial: Variable, labels: [Int], beta: Float) -> (total: Variable, crossEntropy: Variable, divergence: Variable) {
    let ce = softmaxCrossEntropy(clean, labels: labels)
    let kl = mean(softmaxKLDivergencePerRow(clean, adversarial))
    return (ce + kl * beta, ce, kl)
}

/// The first iterate of TRADES's and MART's inner maximisation: x + σ·N(0, 1) (their code) for
/// method `pgd` with a random start, uniform in the ε-ball for `fgsm` with one (Wong et al.), else x;
/// clipped to the ε-ball and [0, 1].
func trainingStart(_ x: Tensor, _ c: PGDConfiguration, method: TrainingAttackMethod, sigma: Float, lower: Tensor, upper: Tensor,
                   rng: inout SeededRandom) -> Tensor {
    guard c.randomStart, method == .pgd else { return PGD.start(x, c, lower: lower, upper: upper, rng: &rng) }
    return (x + Tensor.normal(shape: x.shape, std: sigma, using: &rng)).zipMap(lower, max).zipMap(upper, min)
}
