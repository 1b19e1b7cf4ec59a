import Autodiff
import Tensors

/// Spatial attention map of a group output A (N×C×H×W), vectorised (Zagoruyko & Komodakis):
///     Q = vec(F(A)),  F(A) = (1/C)·Σ_c |A_c|^exponent   → N×(H·W)
/// The paper (and DESIGN) use exponent 2.
public func attentionMap(_ a: Variable, exponent: Float = 2) -> Variable {
    meanOverChannels(powAbs(a, exponent))
}

/// The attention term of AT+ALP, equation (4) of the paper:
///     L_AT = Σ_{j∈I} mean over the batch of ‖ Q'_j/‖Q'_j‖₂ − Q_j/‖Q_j‖₂ ‖_p
/// Reduction, stated exactly: per example the plain (not squared) p-norm of the difference of the
/// two L2-normalised maps; averaged over the batch; summed over the chosen groups. With p = 2 each
/// group contributes at most 2 (two unit vectors), so β weighs a term in [0, 2·|I|].
public func attentionPairingLoss(clean: [Variable], adversarial: [Variable], exponent: Float = 2, p: Float = 2) -> Variable {
    precondition(clean.count == adversarial.count && !clean.isEmpty, "one clean and one adversarial map per group")
    var total: Variable? = nil
    for (a, b) in zip(clean, adversarial) {
        let q = l2NormalizeRows(attentionMap(a, exponent: exponent))
        let qAdv = l2NormalizeRows(attentionMap(b, exponent: exponent))
        let term = mean(pNormPerRow(qAdv - q, p: p))
        total = total.map { $0 + term } ?? term
    }
    return total!
}

/// The logit-pairing term of ALP (Kannan et al.) with the paper's L2 loss:
///     L_ALP = mean over the batch of ‖z − z'‖₂²   (squared L2 over the logits of each example)
/// This is the squared norm summed over classes, not averaged over them, so it is D times the
/// element-wise MSE for D classes.
public func logitPairingLoss(clean: Variable, adversarial: Variable) -> Variable {
    let n = Float(clean.shape[0])
    return sum(square(clean - adversarial)) * (1 / n)
}
