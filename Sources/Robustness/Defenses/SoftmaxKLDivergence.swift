import Autodiff
import Tensors

/// KL(softmax(p) ‖ softmax(q)) per row of two N×D logit matrices → [N] (nats):
/// Σⱼ πⱼ·(log πⱼ − log ρⱼ), π = softmax(p), ρ = softmax(q), from log-softmax (no log of 0).
/// Differentiable in both arguments (TRADES and MART let the gradient reach the clean branch too:
/// PyTorch's `KLDivLoss(log ρ, π)` with π not detached, as in Zhang et al.'s `trades.py` and Wang et
/// al.'s `mart.py`). Composed of `softmax`, `logSoftmax`, `-`, `*` and `sumPerRow`.
public func softmaxKLDivergencePerRow(_ p: Variable, _ q: Variable) -> Variable {
    precondition(p.shape == q.shape && p.value.rank == 2, "KL of logits \(p.shape) and \(q.shape)")
    return sumPerRow(softmax(p) * (logSoftmax(p) - logSoftmax(q)))
}

/// The N×D one-hot matrix of `labels` (a constant of `tape`), to pick pᵢ,yᵢ out of a probability
/// matrix differentiably: sumPerRow(P ⊙ onehot).
func oneHot(_ labels: [Int], classes d: Int, tape: Tape) -> Variable {
    var t = Tensor(shape: [labels.count, d], repeating: 0)
    t.withUnsafeMutableBufferPointer { b in for (i, y) in labels.enumerated() { b[i * d + y] = 1 } }
    return tape.constant(t)
}
