import Autodiff
import Foundation
import Tensors

extension BatchNorm2d {
    /// bn(conv(x)), with the ReLU that follows fused when asked.
    ///
    /// In evaluation mode on a tape that records no parameter gradients — every attack step,
    /// evaluation, an adversarial-training step's attack — batch norm is the fixed affine map
    /// γ·(z − μ)/√(σ² + ε) + β of the convolution's output z, so it is folded into the convolution
    /// (the standard inference fold, e.g. PyTorch's `fuse_conv_bn_eval`):
    ///
    ///     W′[o] = W[o]·s[o],  b′[o] = β[o] − μ[o]·s[o],  s = γ/√(σ² + ε)
    ///
    /// and the layer runs as one convolution with bias and ReLU (oneDNN: bias argument and eltwise
    /// post-op), saving batch norm's pass over the activation forward and backward. Equal to the
    /// unfolded layers up to float rounding (relative ~1e-6; `FoldedBatchNormTests`). The folded
    /// weights are kept until the convolution's weight, γ, β or the running statistics change.
    /// Training mode, parameter gradients and convolutions with a bias of their own take the unfolded path.
    public func folding(_ conv: Conv2d, _ x: Variable, mode: Mode, relu: Bool = false) -> Variable {
        guard mode == .evaluation, conv.bias == nil, !x.recordingTape.recordsParameterGradients else {
            return self(conv(x), mode: mode, relu: relu)
        }
        let (weight, bias) = fold.weights(conv: conv.weight.value, gamma: weight.value, beta: bias.value,
                                          mean: runningMean.value, variance: runningVar.value, epsilon: epsilon)
        let tape = x.recordingTape
        return conv2d(x, weight: tape.constant(weight), bias: tape.constant(bias), relu: relu, geometry: conv.geometry)
    }
}

/// The folded weight and bias of one convolution + batch norm pair, kept with the stamps of the five
/// tensors they were computed from.
final class FoldedConvolutionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var stamps: [Tensor.Stamp] = []
    private var folded: (weight: Tensor, bias: Tensor)?

    func weights(conv w: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor,
                 epsilon: Float) -> (weight: Tensor, bias: Tensor) {
        let current = [w.stamp, gamma.stamp, beta.stamp, mean.stamp, variance.stamp]
        lock.lock()
        defer { lock.unlock() }
        if let folded, stamps == current { return folded }
        let o = w.shape[0], inner = w.count / max(o, 1)
        let g = gamma.scalars, b = beta.scalars, mu = mean.scalars, v = variance.scalars
        // s in double: the fold adds one rounding per weight, as PyTorch's does in float.
        let scale = (0..<o).map { Float(Double(g[$0]) / (Double(v[$0]) + Double(epsilon)).squareRoot()) }
        let weight = w.withUnsafeBufferPointer { src in
            Tensor(shape: w.shape) { out in
                for c in 0..<o { for j in 0..<inner { out[c * inner + j] = src[c * inner + j] * scale[c] } }
            }
        }
        let bias = Tensor(shape: [o], values: (0..<o).map { b[$0] - mu[$0] * scale[$0] })
        folded = (weight, bias)
        stamps = current
        return (weight, bias)
    }
}
