import Autodiff
import NN
import Tensors

/// Per example, the exact squared norm ‖∇ₓ ℓᵢ‖² of the input gradient of its cross-entropy, from a
/// parameter-free tape. In evaluation mode examples are independent, so ∇ₓᵢ Σⱼ ℓⱼ = ∇ₓᵢ ℓᵢ.
public func inputGradientSquaredNorms(_ model: any Classifier, images x: Tensor, labels: [Int], mode: Mode = .evaluation) -> [Float] {
    let g = withBuffersRestored(model) { inputGradient(model, images: x, labels: labels, mode: mode) }
    return g.map { $0 * $0 }.sumPerRow().scalars
}

/// The finite-difference input-gradient penalty of IGR (Ross & Doshi-Velez 2017) in Finlay &
/// Oberman's (2019) form, recorded on `tape` so that parameter gradients flow through it:
///
///     gᵢ = ∇ₓ ℓᵢ(x)  (constant: a parameter-free tape),  dᵢ = gᵢ/‖gᵢ‖
///     ‖∇ₓ ℓᵢ‖ ≈ (ℓᵢ(x + h·dᵢ) − ℓᵢ(x)) / h
///     penalty = mean over the batch of ((ℓᵢ(x + h·dᵢ) − ℓᵢ(x)) / h)²
///
/// The error is O(h) (the curvature of ℓ along d). Returns the clean logits and per-example losses
/// ℓ(x) (so the caller's cross-entropy and accuracy share the clean forward pass) and the penalty. Only the clean pass updates
/// batch-norm running statistics; the direction and perturbed passes leave them as they were.
public func finiteDifferenceGradientPenalty(model: any Classifier, images x: Tensor, labels: [Int], step h: Float, mode: Mode,
                                            tape: Tape) -> (logits: Variable, losses: Variable, penalty: Variable) {
    let g = withBuffersRestored(model) { inputGradient(model, images: x, labels: labels, mode: mode) }
    let norms = g.map { $0 * $0 }.sumPerRow().map { $0.squareRoot() }
    let direction = g.scalingRows(by: norms.map { $0 > 0 ? 1 / $0 : 0 })
    let logits = model(tape.input(x, requiresGradient: false), mode: mode).logits
    let losses = softmaxCrossEntropyPerExample(logits, labels: labels)
    var shifted = x
    shifted.addScaled(direction, h)
    let perturbed = withBuffersRestored(model) {
        softmaxCrossEntropyPerExample(model(tape.input(shifted, requiresGradient: false), mode: mode).logits, labels: labels)
    }
    let penalty = mean(square((perturbed - losses) * (1 / h)))
    return (logits, losses, penalty)
}

/// ∇ₓ Σᵢ ℓᵢ on a tape that treats parameters as constants.
func inputGradient(_ model: any Classifier, images x: Tensor, labels: [Int], mode: Mode) -> Tensor {
    let tape = Tape()
    let v = tape.input(x, requiresGradient: true)
    tape.backward(from: softmaxCrossEntropy(model(v, mode: mode).logits, labels: labels, reduction: .sum))
    return v.gradient ?? Tensor(shape: x.shape)
}

/// Runs `body` and puts the model's buffers (batch-norm running statistics) back as they were.
func withBuffersRestored<R>(_ model: any Classifier, _ body: () -> R) -> R {
    let buffers = model.buffers
    let saved = buffers.map(\.value)
    defer { for (b, v) in zip(buffers, saved) { b.value = v } }
    return body()
}
