/// The oneDNN backend: convolutions (forward, backward-data, backward-weights) and batch norm (with
/// its fused ReLU) on oneDNN 2.6 primitives, with activations kept in the channel-blocked layout the
/// primitives choose (`TensorLayout.channelBlocked16`) from the stem's output to the global pool;
/// products and pooling are, for now, the reference `CPUBackend`'s (reading row-major elements).
///
/// See `DNNLBackend+Convolution.swift` and `DNNLBackend+BatchNorm.swift` for the layouts at each
/// call and `DNNLRuntime` for the primitive cache, the shared buffers and the threads.
///
///     let y = DNNLBackend().conv2d(x, weight: w, geometry: Conv2DGeometry(kernel: 3, padding: 1))
public struct DNNLBackend: Backend {
    public struct Options: Hashable, Sendable {
        /// Winograd F(4×4, 3×3) on 3×3 stride-1 convolutions (direct elsewhere). On by default: on
        /// ResNet-20's training step (batch 128, this 2-core AVX-512 machine, 3 interleaved pairs under
        /// load) it took 0.71/0.40/0.61 s against 0.96/0.56/0.73 s direct — 1.2–1.4× — at a relative
        /// error of ~1e-6 against the reference instead of ~3e-7 (DNNLBackendTests). `ATALP_WINOGRAD=0`
        /// turns it off.
        public var winograd: Bool

        public init(winograd: Bool = true) { self.winograd = winograd }
    }

    public let options: Options
    let runtime: DNNLRuntime
    /// Everything oneDNN does not do here yet.
    let reference = CPUBackend()

    public init(options: Options = Options(), threads: Int = Parallel.threadCount) {
        self.options = options
        runtime = DNNLRuntime(threads: threads)
    }

    /// The oneDNN implementation chosen for each convolution run so far, e.g.
    /// `convolutionForward [128, 16, 28, 28] → 16 channels, … : jit:avx512_core`.
    public func implementations() -> [String] {
        runtime.implementations().map { "\($0.key): \($0.value)" }.sorted()
    }

    public func matmul(_ a: Tensor, transposed ta: Bool, _ b: Tensor, transposed tb: Bool) -> Tensor {
        reference.matmul(a, transposed: ta, b, transposed: tb)
    }

    public func maxPool2d(_ x: Tensor, geometry: Conv2DGeometry) -> (output: Tensor, argmax: [Int32]) {
        reference.maxPool2d(x, geometry: geometry)
    }

    public func maxPool2dBackward(gradOutput: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
        reference.maxPool2dBackward(gradOutput: gradOutput, argmax: argmax, inputShape: inputShape)
    }

    public func avgPool2d(_ x: Tensor, geometry: Conv2DGeometry) -> Tensor {
        reference.avgPool2d(x, geometry: geometry)
    }

    public func avgPool2dBackward(gradOutput: Tensor, inputShape: [Int], geometry: Conv2DGeometry) -> Tensor {
        reference.avgPool2dBackward(gradOutput: gradOutput, inputShape: inputShape, geometry: geometry)
    }
}
