import CBLAS

/// The kernels that carry the arithmetic of a network: products, convolutions, batch norm, pooling.
///
/// Ops and models call these through `Tensor.backend`, never a concrete implementation, so that a GPU
/// backend or another BLAS can replace the CPU one without touching ops, models or stages.
/// Elementwise maps and reductions are memory-bound and live in `Tensor+*.swift` extensions.
public protocol Backend: Sendable {
    /// C = op(A) · op(B) for 2-D tensors, where op transposes when asked.
    func matmul(_ a: Tensor, transposed ta: Bool, _ b: Tensor, transposed tb: Bool) -> Tensor

    /// x: N×C×H×W, weight: O×C×KH×KW → N×O×Ho×Wo (no bias; add it separately).
    func conv2d(_ x: Tensor, weight: Tensor, geometry: Conv2DGeometry) -> Tensor
    /// conv2d(x, weight) + bias[o], then max(·, 0) when `relu`; bias: [O]. A convolution with a batch
    /// norm of fixed statistics folded into it (`BatchNorm2d.folding`): one pass where the backend can.
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor, relu: Bool, geometry: Conv2DGeometry) -> Tensor
    /// Gradients of `conv2d` for the inputs asked for; the others are not computed.
    func conv2dBackward(gradOutput: Tensor, input: Tensor, weight: Tensor, geometry: Conv2DGeometry,
                        needInput: Bool, needWeight: Bool) -> (input: Tensor?, weight: Tensor?)

    /// Batch norm, optionally fused with a ReLU on its output (one pass instead of two, one tensor fewer).
    func batchNormForward(_ x: Tensor, gamma: Tensor, beta: Tensor, mode: BatchNormMode, epsilon: Float, relu: Bool) -> BatchNormForwardResult
    /// With `reluOutput` (the fused op's output) the gradient is first masked where the ReLU was off.
    func batchNormBackward(gradOutput: Tensor, input: Tensor, gamma: Tensor, saved: BatchNormForwardResult, reluOutput: Tensor?,
                           needInput: Bool, needAffine: Bool) -> (input: Tensor?, gamma: Tensor?, beta: Tensor?)

    func maxPool2d(_ x: Tensor, geometry: Conv2DGeometry) -> (output: Tensor, argmax: [Int32])
    func maxPool2dBackward(gradOutput: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor
    func avgPool2d(_ x: Tensor, geometry: Conv2DGeometry) -> Tensor
    func avgPool2dBackward(gradOutput: Tensor, inputShape: [Int], geometry: Conv2DGeometry) -> Tensor
}

extension Tensor {
    /// The backend every op uses: `ATALP_BACKEND` (`reference` or `onednn`, see `BackendKind`).
    public static let backend: any Backend = BackendKind.current.make()
}

/// Kernel size, stride and zero padding of a convolution or pooling window.
public struct Conv2DGeometry: Hashable, Sendable, CustomStringConvertible {
    public var kernelHeight, kernelWidth, strideHeight, strideWidth, padHeight, padWidth: Int

    public init(kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.init(kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                  padHeight: padding, padWidth: padding)
    }

    public init(kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int, padHeight: Int, padWidth: Int) {
        precondition(kernelHeight > 0 && kernelWidth > 0 && strideHeight > 0 && strideWidth > 0 && padHeight >= 0 && padWidth >= 0,
                     "invalid convolution geometry")
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight; self.strideWidth = strideWidth
        self.padHeight = padHeight; self.padWidth = padWidth
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let h = (height + 2 * padHeight - kernelHeight) / strideHeight + 1
        let w = (width + 2 * padWidth - kernelWidth) / strideWidth + 1
        precondition(h > 0 && w > 0, "window \(self) does not fit a \(height)×\(width) input")
        return (h, w)
    }

    /// A 1×1 window with stride 1 and no padding reads the input as it is: no im2col needed.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1 && padHeight == 0 && padWidth == 0
    }

    public var description: String {
        "kernel \(kernelHeight)×\(kernelWidth), stride \(strideHeight)×\(strideWidth), padding \(padHeight)×\(padWidth)"
    }
}

public enum BatchNormMode: Sendable {
    /// Normalise with the batch's own statistics (training).
    case batchStatistics
    /// Normalise with fixed statistics (evaluation: the running mean and variance).
    case fixed(mean: Tensor, variance: Tensor)
}

/// What the forward pass of batch norm keeps for the backward pass and the running statistics.
public struct BatchNormForwardResult: Sendable {
    public var output: Tensor
    /// Per channel: the mean used, and 1/sqrt(var + ε).
    public var mean: Tensor
    public var inverseStd: Tensor
    /// Per channel, unbiased batch variance (for running statistics); nil in fixed mode.
    public var unbiasedVariance: Tensor?
    /// Per channel, the biased variance normalised with (the batch's or the fixed one), for backends
    /// whose backward pass takes it (oneDNN); nil from the reference backend.
    public var variance: Tensor? = nil
    /// oneDNN's record of where a fused ReLU was off (opaque bytes, not floats), for its backward
    /// pass; nil without a fused ReLU or from the reference backend.
    public var workspace: Tensor? = nil
    /// The ε of σ⁻¹ = 1/√(var + ε), for backends whose backward pass recomputes σ⁻¹ (oneDNN); nil from the reference.
    public var epsilon: Float? = nil
}

/// Row-major single-precision GEMM: C = α·op(A)·op(B) + β·C.
@inline(__always)
func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

extension Backend {
    /// The convolution, then the bias and ReLU as one elementwise pass (the reference backend's way).
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor, relu: Bool, geometry: Conv2DGeometry) -> Tensor {
        precondition(bias.shape == [weight.shape[0]], "conv2d bias \(bias.shape) for \(weight.shape[0]) output channels")
        let y = conv2d(x, weight: weight, geometry: geometry)
            .channelAffine(scale: Tensor(shape: [weight.shape[0]], repeating: 1), shift: bias)
        return relu ? y.map { max($0, 0) } : y
    }

    public func batchNormForward(_ x: Tensor, gamma: Tensor, beta: Tensor, mode: BatchNormMode, epsilon: Float) -> BatchNormForwardResult {
        batchNormForward(x, gamma: gamma, beta: beta, mode: mode, epsilon: epsilon, relu: false)
    }

    public func batchNormBackward(gradOutput: Tensor, input: Tensor, gamma: Tensor, saved: BatchNormForwardResult,
                                  needInput: Bool, needAffine: Bool) -> (input: Tensor?, gamma: Tensor?, beta: Tensor?) {
        batchNormBackward(gradOutput: gradOutput, input: input, gamma: gamma, saved: saved, reluOutput: nil,
                          needInput: needInput, needAffine: needAffine)
    }
}
