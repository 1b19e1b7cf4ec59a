import Autodiff
import NN
import Tensors

/// The terms of one training step's loss, for logs.
public struct LossTerms: Sendable {
    public var total: Float = 0
    public var crossEntropy: Float = 0
    public var logitPairing: Float = 0
    public var attentionPairing: Float = 0
    /// IGR: the finite-difference estimate of mean ‖∇ₓ CE‖² (before λ).
    public var gradientPenalty: Float = 0
    /// ADP: the ensemble entropy H and the mean log-determinant (before α and β).
    public var ensembleEntropy: Float = 0
    public var logDeterminant: Float = 0
    /// TRADES: the mean KL(f(x) ‖ f(x′)); MART: the mean of the same weighted by 1 − p_y(x) (before β or λ).
    public var divergence: Float = 0

    public init() {}
    /// Fraction of the batch the model got right (on the adversarial batch when there is one).
    public var accuracy: Float = 0
}

extension Defense {
    /// Builds the loss of one batch on `tape` (which must record parameter gradients): forward passes in
    /// training mode of the clean batch and, for adversarial objectives, of `adversarial` (made by the
    /// caller with `adversarialTraining.attack`). Returns the scalar loss variable and its terms.
    ///
    /// IGR adds its finite-difference gradient penalty to the clean cross-entropy; ADP needs an
    /// `Ensemble` (as `makeModel` builds) and sums its members' cross-entropies minus the regulariser.
    public func loss(model: any Classifier, clean x: Tensor, adversarial: Tensor?, labels: [Int], tape: Tape) -> (Variable, LossTerms) {
        loss(model: model, clean: x, adversarialInput: adversarial.map { tape.input($0, requiresGradient: false) }, labels: labels, tape: tape)
    }

    /// The same with x′ given as a variable of `tape`: free training asks for its gradient
    /// (`tape.input(x′, requiresGradient: true)`) to update δ from the same backward pass.
    public func loss(model: any Classifier, clean x: Tensor, adversarialInput adversarial: Variable?, labels: [Int],
                     tape: Tape) -> (Variable, LossTerms) {
        switch self {
        case .igr(let igr): return igr.loss(model: model, x: x, labels: labels, tape: tape)
        case .adp(let adp): return adp.loss(model: model, x: x, labels: labels, tape: tape)
        case .trades(let t) where adversarial != nil: return t.loss(model: model, clean: x, adversarial: adversarial!, labels: labels, tape: tape)
        case .mart(let m) where adversarial != nil: return m.loss(model: model, clean: x, adversarial: adversarial!, labels: labels, tape: tape)
        default: break
        }
        guard let objective = adversarialTraining, let adversarial else {
            var terms = LossTerms()
            let out = model(tape.input(x, requiresGradient: false), mode: .training)
            let ce = softmaxCrossEntropy(out.logits, labels: labels)
            terms.total = ce.value.scalar; terms.crossEntropy = terms.total
            terms.accuracy = accuracy(out.logits.value, labels)
            return (ce, terms)
        }
        return objective.loss(model: model, clean: x, adversarial: adversarial, labels: labels, tape: tape)
    }
}

extension AdversarialObjective {
    /// Equation 2 on one batch and its adversarial counterpart.
    func loss(model: any Classifier, clean x: Tensor, adversarial: Variable, labels: [Int], tape: Tape) -> (Variable, LossTerms) {
        var terms = LossTerms()
        let adv = model(adversarial, mode: .training)
        var ce = softmaxCrossEntropy(adv.logits, labels: labels)
        terms.accuracy = accuracy(adv.logits.value, labels)
        var total: Variable
        if needsCleanPass {
            let cleanOut = model(tape.input(x, requiresGradient: false), mode: .training)
            let clean = detachClean
                ? ClassifierOutput(logits: tape.constant(cleanOut.logits.value), groups: cleanOut.groups.map { tape.constant($0.value) })
                : cleanOut
            if cleanLossWeight != 0 {
                let w = Float(cleanLossWeight)
                ce = ce * (1 - w) + softmaxCrossEntropy(cleanOut.logits, labels: labels) * w
            }
            total = ce
            if alpha != 0 {
                let alp = logitPairingLoss(clean: clean.logits, adversarial: adv.logits)
                terms.logitPairing = alp.value.scalar
                total = total + alp * Float(alpha)
            }
            if beta != 0 {
                let chosen = attentionGroups ?? Array(0..<adv.groups.count)
                let at = attentionPairingLoss(clean: chosen.map { clean.groups[$0] }, adversarial: chosen.map { adv.groups[$0] },
                                              exponent: Float(attentionExponent), p: Float(attentionNorm))
                terms.attentionPairing = at.value.scalar
                total = total + at * Float(beta)
            }
        } else {
            total = ce
        }
        terms.crossEntropy = ce.value.scalar
        terms.total = total.value.scalar
        return (total, terms)
    }
}

/// Fraction of rows whose arg-max logit is the label.
public func accuracy(_ logits: Tensor, _ labels: [Int]) -> Float {
    let predictions = logits.argmaxPerRow()
    return Float(zip(predictions, labels).filter { $0 == $1 }.count) / Float(max(labels.count, 1))
}

extension InputGradientRegularization {
    /// IGR: mean CE + λ·penalty, penalty ≈ mean ‖∇ₓ CEᵢ‖² (see `finiteDifferenceGradientPenalty`).
    func loss(model: any Classifier, x: Tensor, labels: [Int], tape: Tape) -> (Variable, LossTerms) {
        var terms = LossTerms()
        let (logits, losses, penalty) = finiteDifferenceGradientPenalty(model: model, images: x, labels: labels, step: Float(finiteDifferenceStep),
                                                                mode: .training, tape: tape)
        let ce = mean(losses)
        let total = weight == 0 ? ce : ce + penalty * Float(weight)
        terms.crossEntropy = ce.value.scalar
        terms.gradientPenalty = penalty.value.scalar
        terms.total = total.value.scalar
        terms.accuracy = accuracy(logits.value, labels)
        return (total, terms)
    }
}

extension AdaptiveDiversityPromoting {
    /// ADP: Σ_k CE(z_k, y) − α·H − β·log det (see `adpRegularizerTerms`); accuracy is the ensemble's.
    func loss(model: any Classifier, x: Tensor, labels: [Int], tape: Tape) -> (Variable, LossTerms) {
        guard let ensemble = model as? Ensemble else {
            preconditionFailure("the ADP objective trains an Ensemble (Defense.makeModel builds one), got \(type(of: model))")
        }
        var terms = LossTerms()
        let logits = ensemble.memberOutputs(tape.input(x, requiresGradient: false), mode: .training).map(\.logits)
        var ce = softmaxCrossEntropy(logits[0], labels: labels)
        for z in logits.dropFirst() { ce = ce + softmaxCrossEntropy(z, labels: labels) }
        let (entropy, logDet) = adpRegularizerTerms(memberLogits: logits, labels: labels, determinantOffset: Float(determinantOffset))
        let total = ce - entropy * Float(alpha) - logDet * Float(beta)
        terms.crossEntropy = ce.value.scalar
        terms.ensembleEntropy = entropy.value.scalar
        terms.logDeterminant = logDet.value.scalar
        terms.total = total.value.scalar
        terms.accuracy = accuracy(Ensemble.combine(logits).value, labels)
        return (total, terms)
    }
}
