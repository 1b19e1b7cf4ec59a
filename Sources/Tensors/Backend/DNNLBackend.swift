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
        /// Winograd F(4×4, 3×3) on 3×3 stride-1 convolutions with at least `winogradMinimumChannels`
        /// input and output channels (direct elsewhere). `ATALP_WINOGRAD=0` turns it off.
        public var winograd: Bool
        /// Narrower layers run direct: there Winograd's input and output transforms outweigh the
        /// multiplications it saves. Per layer, oneDNN's own timings (`ONEDNN_VERBOSE=1 atalp bench
        /// --network NET --workload pgd-step` and `train-step`, with `ATALP_WINOGRAD=1` and `0`, this
        /// 2-core AVX-512 machine, 2026-11-30), ms per call, Winograd / direct:
        ///
        /// | layer (batch 128, 2 threads) | forward | backward data | backward weights |
        /// |---|---:|---:|---:|
        /// | ResNet-20 stem, 1 → 16, 28×28 | 5.19 / 0.52 | 2.80 / 1.94 | 1.91 / 0.20 |
        /// | ResNet-20 16 → 16, 28×28 | 3.63 / 1.91 | 3.89 / 1.81 | 1.97 / 1.87 |
        /// | ResNet-20 32 → 32, 14×14 | 2.17 / 1.61 | 1.99 / 1.67 | 1.99 / 1.48 |
        /// | ResNet-20 64 → 64, 7×7 | 1.48 / 1.36 | 1.35 / 1.39 | 1.62 / 1.53 |
        /// | ResNet-18 stem, 3 → 64, 32×32 | 22.6 / 4.2 | 10.3 / 13.2 | 9.8 / 3.2 |
        /// | ResNet-18 64 → 64, 32×32 | 23.0 / 40.7 | 20.3 / 41.0 | 23.5 / 40.4 |
        /// | ResNet-18 128 → 128, 16×16 | 16.6 / 39.4 | 16.8 / 33.3 | 18.3 / 33.0 |
        /// | ResNet-18 512 → 512, 4×4 | 20.4 / 31.9 | 20.0 / 28.9 | 24.5 / 43.6 |
        ///
        /// On one thread at batch 64 (the main job's ranks) ResNet-20's 16- and 32-channel layers are
        /// also faster direct (16 → 16 forward 2.17 / 1.52 ms) and its 64-channel ones slightly faster
        /// Winograd (forward 1.20 / 1.25 ms, backward weights 1.14 / 1.54 ms). Whole steps, images/s,
        /// three alternating runs: ResNet-20 PGD step 1450 Winograd everywhere / 1665 direct everywhere,
        /// training step 954 / 1064; ResNet-18 PGD step 199 / 117. Winograd's cost is accuracy: a worst
        /// relative error per layer of 1.1e-6 against the reference instead of 7e-7 (DNNLBackendTests).
        public var winogradMinimumChannels: Int

        public init(winograd: Bool = true, winogradMinimumChannels: Int = 64) {
            self.winograd = winograd
            self.winogradMinimumChannels = winogradMinimumChannels
        }

        /// Whether a convolution of this geometry and these channel counts runs Winograd.
        public func usesWinograd(_ g: Conv2DGeometry, inChannels: Int, outChannels: Int) -> Bool {
            winograd && g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
                && min(inChannels, outChannels) >= winogradMinimumChannels
        }
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
