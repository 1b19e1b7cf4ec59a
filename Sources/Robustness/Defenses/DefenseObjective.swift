import Autodiff
import NN
import Tensors

/// The terms of one training step's loss, for logs.
public struct LossTerms: Sendable {
    public var total: Float = 0
    public var crossEntropy: Float = 0
    public var logitPairing: Float = 0
    public var attentionPairing: Float = 0
    /// Fraction of the batch the model got right (on the adversarial batch when there is one).
    public var accuracy: Float = 0
}

extension DefenseConfiguration {
    /// Builds the loss of one batch on `tape` (which must record parameter gradients): forward passes in
    /// training mode of the clean batch and, for adversarial objectives, of `adversarial` (made by the
    /// caller). Returns the scalar loss variable and its terms.
    public func loss(model: any Classifier, clean x: Tensor, adversarial: Tensor?, labels: [Int], tape: Tape) -> (Variable, LossTerms) {
        var terms = LossTerms()
        guard isAdversarial, let adversarial else {
            let out = model(tape.input(x, requiresGradient: false), mode: .training)
            let ce = softmaxCrossEntropy(out.logits, labels: labels)
            terms.total = ce.value.scalar; terms.crossEntropy = terms.total
            terms.accuracy = accuracy(out.logits.value, labels)
            return (ce, terms)
        }
        let adv = model(tape.input(adversarial, requiresGradient: false), mode: .training)
        var ce = softmaxCrossEntropy(adv.logits, labels: labels)
        terms.accuracy = accuracy(adv.logits.value, labels)
        var total: Variable
        if needsCleanPass {
            let cleanOut = model(tape.input(x, requiresGradient: false), mode: .training)
            let clean = detachClean
                ? ClassifierOutput(logits: tape.constant(cleanOut.logits.value), groups: cleanOut.groups.map { tape.constant($0.value) })
                : cleanOut
            if cleanLossWeight != 0 {
                ce = ce * (1 - cleanLossWeight) + softmaxCrossEntropy(cleanOut.logits, labels: labels) * cleanLossWeight
            }
            total = ce
            if alpha != 0 {
                let alp = logitPairingLoss(clean: clean.logits, adversarial: adv.logits)
                terms.logitPairing = alp.value.scalar
                total = total + alp * alpha
            }
            if beta != 0 {
                let chosen = attentionGroups ?? Array(0..<adv.groups.count)
                let at = attentionPairingLoss(clean: chosen.map { clean.groups[$0] }, adversarial: chosen.map { adv.groups[$0] },
                                              exponent: attentionExponent, p: attentionNorm)
                terms.attentionPairing = at.value.scalar
                total = total + at * beta
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
