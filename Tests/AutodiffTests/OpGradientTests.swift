import XCTest
import Autodiff
import Tensors

/// Every differentiable op against central finite differences.
final class OpGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 1)

    func randn(_ shape: [Int]) -> Tensor { Tensor.normal(shape: shape, using: &rng) }

    func testConvolutionGeometries() {
        let cases: [(c: Int, o: Int, h: Int, w: Int, Conv2DGeometry)] = [
            (2, 3, 5, 5, Conv2DGeometry(kernel: 3, stride: 1, padding: 1)),
            (2, 3, 6, 5, Conv2DGeometry(kernel: 3, stride: 2, padding: 1)),
            (3, 2, 4, 4, Conv2DGeometry(kernel: 1)),
            (3, 2, 5, 5, Conv2DGeometry(kernel: 1, stride: 2)),
            (2, 2, 7, 6, Conv2DGeometry(kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 1, padHeight: 0, padWidth: 2)),
            (1, 2, 9, 9, Conv2DGeometry(kernel: 7, stride: 2, padding: 3)),
            (2, 3, 6, 6, Conv2DGeometry(kernel: 3, stride: 1, padding: 0)),
            (2, 2, 5, 5, Conv2DGeometry(kernel: 5, stride: 1, padding: 2)),
        ]
        for (c, o, h, w, g) in cases {
            checkGradients([randn([3, c, h, w]), randn([o, c, g.kernelHeight, g.kernelWidth])], samples: 24) {
                conv2d($0[0], weight: $0[1], geometry: g)
            }
        }
    }

    /// The convolution with bias and ReLU in one call (a folded batch norm's): every input's gradient by
    /// finite differences without the ReLU (with it, a 1e-2 step moves many of 16·9 summed products
    /// across the kink), and with it against the separate ops it fuses, plain and channel-blocked outputs.
    func testConvolutionWithBiasAndReLUGradients() {
        for (c, o, h, g) in [(2, 3, 5, Conv2DGeometry(kernel: 3, stride: 1, padding: 1)), (3, 2, 6, Conv2DGeometry(kernel: 1, stride: 2)),
                             (16, 16, 6, Conv2DGeometry(kernel: 3, stride: 1, padding: 1))] {
            let inputs = [randn([2, c, h, h]), randn([o, c, g.kernelHeight, g.kernelWidth]), randn([o])]
            checkGradients(inputs, samples: 24) { conv2d($0[0], weight: $0[1], bias: $0[2], relu: false, geometry: g) }
            func gradients(fused: Bool) -> [[Float]] {
                let tape = Tape()
                let v = inputs.map { tape.input($0, requiresGradient: true) }
                let y = fused ? conv2d(v[0], weight: v[1], bias: v[2], relu: true, geometry: g)
                              : relu(addChannelBias(conv2d(v[0], weight: v[1], geometry: g), v[2]))
                tape.backward(from: sum(y * tape.constant(Tensor.normal(shape: y.shape, using: &rng))))
                return v.map { $0.gradient!.scalars }
            }
            let saved = rng
            let fused = gradients(fused: true)
            rng = saved
            for (a, b) in zip(fused, gradients(fused: false)) {
                let scale = b.map(abs).max() ?? 1
                for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-4 * scale) }
            }
        }
    }

    func testConvolutionMatchesReferenceOnLargeAndTiledShapes() {
        // 28×28 outputs use one image per GEMM; 7×7 outputs batch several images per GEMM.
        for (h, g) in [(28, Conv2DGeometry(kernel: 3, padding: 1)), (14, Conv2DGeometry(kernel: 3, stride: 2, padding: 1)),
                       (7, Conv2DGeometry(kernel: 3, padding: 1)), (8, Conv2DGeometry(kernel: 1, stride: 2))] {
            let x = randn([5, 4, h, h]), w = randn([6, 4, g.kernelHeight, g.kernelWidth])
            let fast = Tensor.backend.conv2d(x, weight: w, geometry: g)
            let slow = Reference.conv2d(x, weight: w, geometry: g)
            XCTAssertEqual(fast.shape, slow.shape)
            for (a, b) in zip(fast.scalars, slow.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        }
    }

    func testConvolutionBackwardOnTiledShapes() {
        checkGradients([randn([5, 3, 6, 6]), randn([4, 3, 3, 3])], samples: 30) {
            conv2d($0[0], weight: $0[1], geometry: Conv2DGeometry(kernel: 3, stride: 1, padding: 1))
        }
    }

    func testChannelBias() {
        checkGradients([randn([2, 3, 4, 4]), randn([3])]) { addChannelBias($0[0], $0[1]) }
    }

    func testBatchNormTrainingAndEvaluation() {
        checkGradients([randn([4, 3, 3, 3]), randn([3]), randn([3])], epsilon: 5e-3) {
            batchNorm($0[0], gamma: $0[1], beta: $0[2], mode: .batchStatistics).output
        }
        let mean = randn([3]), variance = randn([3]).map { abs($0) + 0.5 }
        checkGradients([randn([2, 3, 3, 3]), randn([3]), randn([3])]) {
            batchNorm($0[0], gamma: $0[1], beta: $0[2], mode: .fixed(mean: mean, variance: variance)).output
        }
    }

    func testFusedBatchNormReLUAndAddReLU() {
        // Shift β away from zero so that few outputs sit at the ReLU's kink.
        checkGradients([randn([4, 3, 3, 3]), randn([3]), Tensor(shape: [3], values: [0.3, -0.2, 0.5])], epsilon: 2e-3) {
            batchNorm($0[0], gamma: $0[1], beta: $0[2], mode: .batchStatistics, relu: true).output
        }
        let mean = randn([3]), variance = randn([3]).map { abs($0) + 0.5 }
        checkGradients([randn([2, 3, 3, 3]), randn([3]), randn([3])], epsilon: 2e-3) {
            batchNorm($0[0], gamma: $0[1], beta: $0[2], mode: .fixed(mean: mean, variance: variance), relu: true).output
        }
        let a = awayFromZero([2, 3, 4, 4], rng: &rng)
        checkGradients([a, a.map { -$0 * 0.5 }]) { addReLU($0[0], $0[1]) }
        // The fused op equals the two ops in sequence.
        let x = randn([3, 2, 4, 4]), g = randn([2]), b = randn([2])
        let tape = Tape()
        let fused = batchNorm(tape.constant(x), gamma: tape.constant(g), beta: tape.constant(b), mode: .batchStatistics, relu: true).output
        let separate = relu(batchNorm(tape.constant(x), gamma: tape.constant(g), beta: tape.constant(b), mode: .batchStatistics).output)
        XCTAssertEqual(fused.value, separate.value)
    }

    func testBatchNormMatchesDefinition() {
        // Two values per channel, -1 and 1: mean 0, biased variance 1, so y = x/√(1+ε)·γ + β.
        let x = Tensor(shape: [2, 1, 1, 1], values: [-1, 1])
        let r = Tensor.backend.batchNormForward(x, gamma: Tensor(shape: [1], values: [2]), beta: Tensor(shape: [1], values: [0.5]),
                                                mode: .batchStatistics, epsilon: 0)
        XCTAssertEqual(r.output.scalars, [-1.5, 2.5])
        XCTAssertEqual(r.unbiasedVariance!.scalars, [2])  // (1 + 1) / (2 − 1)
    }

    func testActivationsAndPooling() {
        checkGradients([awayFromZero([2, 3, 4, 4], rng: &rng)]) { relu($0[0]) }
        // Distinct values keep each max-pool window's arg-max stable under the ±ε probe.
        let distinct = Tensor(shape: [2, 2, 5, 5], values: (0..<100).map { Float(($0 * 37) % 100) / 10 })
        checkGradients([distinct], epsilon: 1e-2) { maxPool2d($0[0], geometry: Conv2DGeometry(kernel: 3, stride: 2, padding: 1)) }
        checkGradients([randn([2, 2, 5, 5])]) { avgPool2d($0[0], geometry: Conv2DGeometry(kernel: 3, stride: 2, padding: 1)) }
        checkGradients([randn([2, 3, 4, 4])]) { globalAvgPool($0[0]) }
    }

    func testLinearAlgebra() {
        checkGradients([randn([4, 5]), randn([3, 5]), randn([3])]) { linear($0[0], weight: $0[1], bias: $0[2]) }
        checkGradients([randn([4, 5]), randn([5, 2])]) { matmul($0[0], $0[1]) }
    }

    func testArithmetic() {
        checkGradients([randn([3, 4]), randn([3, 4])]) { $0[0] + $0[1] }
        checkGradients([randn([3, 4]), randn([3, 4])]) { $0[0] - $0[1] }
        checkGradients([randn([3, 4]), randn([3, 4])]) { $0[0] * $0[1] }
        checkGradients([randn([3, 4])]) { $0[0] * 2.5 + 1 }
        checkGradients([randn([3, 4])]) { square($0[0]) }
        checkGradients([awayFromZero([3, 4], rng: &rng)]) { powAbs($0[0], 3) }
        checkGradients([awayFromZero([3, 4], rng: &rng)]) { powAbs($0[0], 1.5) }
        let scale = Tensor(shape: [2], values: [2, -0.5]), shift = Tensor(shape: [2], values: [0.1, 0.3])
        checkGradients([randn([2, 2, 3, 3])]) { channelAffine($0[0], scale: scale, shift: shift) }
    }

    func testReductionsAndShapes() {
        checkGradients([randn([3, 4])]) { sum($0[0]) }
        checkGradients([randn([3, 4])]) { mean($0[0]) }
        checkGradients([randn([3, 2, 2])]) { sumPerRow($0[0]) }
        checkGradients([randn([2, 3, 4, 4])]) { meanOverChannels($0[0]) }
        checkGradients([randn([2, 3, 2, 2])]) { reshape($0[0], [6, 4]) }
        checkGradients([randn([2, 3]), randn([1, 3])]) { concatenateRows([$0[0], $0[1]]) }
        checkGradients([randn([4, 3])]) { rows($0[0], 1..<3) }
    }

    func testNormalisationAndNorms() {
        checkGradients([randn([3, 5])], epsilon: 1e-3) { l2NormalizeRows($0[0]) }
        checkGradients([randn([3, 5])], epsilon: 1e-3) { pNormPerRow($0[0], p: 2) }
        checkGradients([awayFromZero([3, 5], rng: &rng)], epsilon: 1e-3) { pNormPerRow($0[0], p: 3) }
    }

    func testSoftmaxAndLosses() {
        checkGradients([randn([3, 5])]) { logSoftmax($0[0]) }
        checkGradients([randn([4, 5])]) { softmaxCrossEntropy($0[0], labels: [0, 3, 4, 1]) }
        checkGradients([randn([4, 5])]) { softmaxCrossEntropy($0[0], labels: [2, 2, 0, 1], reduction: .sum) }
        checkGradients([randn([3, 4]), randn([3, 4])]) { meanSquaredError($0[0], $0[1]) }
    }

    func testCrossEntropyMatchesHandComputedValue() {
        // Uniform logits over 4 classes: −log(1/4) = log 4 ≈ 1.3863 per example.
        let tape = Tape()
        let loss = softmaxCrossEntropy(tape.input(Tensor(shape: [2, 4]), requiresGradient: false), labels: [1, 3])
        XCTAssertEqual(loss.value.scalar, 1.3862944, accuracy: 1e-6)
    }

    func testGradientAccumulatesOnFanIn() {
        // y = x·x + x  ⇒  dy/dx = 2x + 1, at x = 1.5 expect 4.
        let tape = Tape()
        let x = tape.input(Tensor(shape: [1], values: [1.5]), requiresGradient: true)
        let y = sum(x * x + x)
        tape.backward(from: y)
        XCTAssertEqual(x.gradient!.scalar, 4, accuracy: 1e-6)
    }

    func testConstantsRecordNothing() {
        let tape = Tape()
        let a = tape.input(randn([2, 2]), requiresGradient: false)
        let y = sum(a * a)
        XCTAssertFalse(y.requiresGradient)
    }
}
