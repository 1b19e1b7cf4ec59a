import XCTest
import Tensors

/// oneDNN's convolutions against the reference backend (im2col + OpenBLAS), all three passes, with
/// plain and channel-blocked activations.
///
/// Tolerance: both sides sum the same C·KH·KW products in Float32 in different orders (and Winograd
/// through a transform), so they differ by rounding only. We bound the largest difference by
/// `tolerance` × the largest magnitude of the reference result; measured on this machine (AVX-512) the
/// worst case was 7e-7 (direct) and 1.1e-6 (Winograd), so 1e-5 / 1e-4 leave room and still catch any
/// wrong index (which gives an error of order 1).
final class DNNLBackendTests: XCTestCase {
    struct Case {
        var input: [Int]          // N, C, H, W
        var outChannels: Int
        var geometry: Conv2DGeometry
    }

    static let cases: [Case] = [
        Case(input: [2, 16, 12, 12], outChannels: 32, geometry: Conv2DGeometry(kernel: 3, stride: 1, padding: 1)),   // Winograd-eligible
        Case(input: [1, 3, 7, 9], outChannels: 5, geometry: Conv2DGeometry(kernel: 3, stride: 1, padding: 1)),       // odd, batch 1
        Case(input: [3, 1, 28, 28], outChannels: 16, geometry: Conv2DGeometry(kernel: 3, stride: 1, padding: 1)),    // ResNet-20's stem
        Case(input: [2, 16, 13, 13], outChannels: 32, geometry: Conv2DGeometry(kernel: 3, stride: 2, padding: 1)),   // odd size, strided
        Case(input: [2, 16, 14, 14], outChannels: 32, geometry: Conv2DGeometry(kernel: 1, stride: 2, padding: 0)),   // shortcut
        Case(input: [1, 5, 9, 11], outChannels: 7, geometry: Conv2DGeometry(kernel: 1, stride: 2, padding: 0)),      // odd 1×1
        Case(input: [1, 3, 17, 17], outChannels: 8, geometry: Conv2DGeometry(kernel: 7, stride: 2, padding: 3)),     // ImageNet stem
        Case(input: [2, 4, 6, 10], outChannels: 6,
             geometry: Conv2DGeometry(kernelHeight: 1, kernelWidth: 3, strideHeight: 1, strideWidth: 2, padHeight: 0, padWidth: 1)),
    ]

    func testDirectConvolutionsMatchTheReference() {
        compareAllPasses(DNNLBackend(options: .init(winograd: false)), tolerance: 1e-5)
    }

    func testWinogradConvolutionsMatchTheReference() {
        compareAllPasses(DNNLBackend(options: Self.winogradEverywhere), tolerance: 1e-4)
    }

    /// Winograd on every 3×3 stride-1 case here, however narrow (by default only from 64 channels).
    static let winogradEverywhere = DNNLBackend.Options(winograd: true, winogradMinimumChannels: 1)

    func testWinogradOnlyOnWideThreeByThreeStrideOneLayers() {
        let options = DNNLBackend.Options()
        let same = Conv2DGeometry(kernel: 3, stride: 1, padding: 1)
        XCTAssertTrue(options.usesWinograd(same, inChannels: 64, outChannels: 128))
        XCTAssertFalse(options.usesWinograd(same, inChannels: 16, outChannels: 16), "ResNet-20's first group is faster direct")
        XCTAssertFalse(options.usesWinograd(same, inChannels: 3, outChannels: 64), "a stem is faster direct")
        XCTAssertFalse(options.usesWinograd(Conv2DGeometry(kernel: 3, stride: 2, padding: 1), inChannels: 64, outChannels: 64))
        XCTAssertFalse(options.usesWinograd(Conv2DGeometry(kernel: 1, stride: 1, padding: 0), inChannels: 64, outChannels: 64))
        XCTAssertFalse(DNNLBackend.Options(winograd: false).usesWinograd(same, inChannels: 64, outChannels: 64))
        // The choice reaches oneDNN: a wide layer gets a Winograd kernel, a narrow one a direct kernel.
        let backend = DNNLBackend()
        _ = backend.conv2d(Tensor(shape: [1, 64, 8, 8], repeating: 1), weight: Tensor(shape: [64, 64, 3, 3], repeating: 0.1), geometry: same)
        _ = backend.conv2d(Tensor(shape: [1, 16, 8, 8], repeating: 1), weight: Tensor(shape: [16, 16, 3, 3], repeating: 0.1), geometry: same)
        let kernels = backend.implementations()
        XCTAssertTrue(kernels.contains { $0.contains("[1, 64, 8, 8]") && $0.contains("wino") }, "\(kernels)")
        XCTAssertTrue(kernels.contains { $0.contains("[1, 16, 8, 8]") && !$0.contains("wino") }, "\(kernels)")
    }

    /// DESIGN.md, "Determinism": same inputs → the same bytes, including the backward-weights
    /// reduction over threads, and in a second backend instance (freshly created primitives).
    func testSameInputsGiveTheSameBytes() {
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for winograd in [false, true] {
            let options = winograd ? Self.winogradEverywhere : DNNLBackend.Options(winograd: false)
            let first = DNNLBackend(options: options), second = DNNLBackend(options: options)
            for (i, c) in Self.cases.enumerated() {
                var rng = SeededRandom(seed: UInt64(100 + i))
                let (x, w, dy) = Self.operands(c, using: &rng)
                let a = first.conv2d(x, weight: w, geometry: c.geometry), b = second.conv2d(x, weight: w, geometry: c.geometry)
                XCTAssertEqual(a, b, "forward, case \(i)")
                XCTAssertEqual(a, first.conv2d(x, weight: w, geometry: c.geometry), "forward rerun, case \(i)")
                let ga = first.conv2dBackward(gradOutput: dy, input: x, weight: w, geometry: c.geometry, needInput: true, needWeight: true)
                let gb = second.conv2dBackward(gradOutput: dy, input: x, weight: w, geometry: c.geometry, needInput: true, needWeight: true)
                XCTAssertEqual(ga.input, gb.input, "input gradient, case \(i)")
                XCTAssertEqual(ga.weight, gb.weight, "weight gradient, case \(i)")
                digest = Self.fnv1a([a, ga.input!, ga.weight!], into: digest)
            }
        }
        // Across processes: run this test twice with ATALP_TEST_VERBOSE=1 and compare the lines.
        if ProcessInfo.processInfo.environment["ATALP_TEST_VERBOSE"] != nil {
            print("oneDNN convolution outputs, FNV-1a over their bytes: \(String(digest, radix: 16))")
        }
    }

    static func fnv1a(_ tensors: [Tensor], into hash: UInt64) -> UInt64 {
        var h = hash
        for t in tensors {
            t.withUnsafeBufferPointer { b in
                for v in b { h = (h ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
            }
        }
        return h
    }

    /// A 3×3 kernel that is 1 at the centre copies each channel: a hand-checkable case. Exact with
    /// direct convolution (one product by 1, the rest by 0); Winograd's transforms round, so only close.
    func testCentreTapKernelIsTheIdentity() {
        var rng = SeededRandom(seed: 3)
        let x = Tensor.normal(shape: [2, 3, 5, 5], using: &rng)
        var w = Tensor(shape: [3, 3, 3, 3])
        for ch in 0..<3 { w[ch, ch, 1, 1] = 1 }
        let g = Conv2DGeometry(kernel: 3, padding: 1)
        XCTAssertEqual(DNNLBackend(options: .init(winograd: false)).conv2d(x, weight: w, geometry: g), x)
        assertClose(DNNLBackend(options: Self.winogradEverywhere).conv2d(x, weight: w, geometry: g), x, tolerance: 1e-5,
                    "Winograd identity", file: #filePath, line: #line)
    }

    func testOnlyTheRequestedGradientsAreComputed() {
        let backend = DNNLBackend()
        var rng = SeededRandom(seed: 5)
        let c = Self.cases[0]
        let (x, w, dy) = Self.operands(c, using: &rng)
        let onlyInput = backend.conv2dBackward(gradOutput: dy, input: x, weight: w, geometry: c.geometry, needInput: true, needWeight: false)
        XCTAssertNotNil(onlyInput.input)
        XCTAssertNil(onlyInput.weight)
        let onlyWeight = backend.conv2dBackward(gradOutput: dy, input: x, weight: w, geometry: c.geometry, needInput: false, needWeight: true)
        XCTAssertNil(onlyWeight.input)
        XCTAssertNotNil(onlyWeight.weight)
    }

    /// Each plan keeps its reordered weights: a weight tensor written in place (as the optimiser does)
    /// must be reordered again, and a new tensor with the old values must give the old result.
    func testWeightsWrittenInPlaceAreReorderedAgain() {
        let backend = DNNLBackend(), reference = CPUBackend()
        var rng = SeededRandom(seed: 9)
        let c = Self.cases[0]
        let (x, original, dy) = Self.operands(c, using: &rng)
        let before = backend.conv2d(x, weight: original, geometry: c.geometry)
        var w = original * 1        // storage of its own
        _ = backend.conv2d(x, weight: w, geometry: c.geometry)
        _ = backend.conv2dBackward(gradOutput: dy, input: x, weight: w, geometry: c.geometry, needInput: true, needWeight: false)
        w[0, 0, 1, 1] += 3          // in place, as SGD writes: same storage, new version
        for (what, weight) in [("changed", w), ("original again", original)] {
            assertClose(backend.conv2d(x, weight: weight, geometry: c.geometry), reference.conv2d(x, weight: weight, geometry: c.geometry),
                        tolerance: 1e-4, "forward, \(what)", file: #filePath, line: #line)
            let ours = backend.conv2dBackward(gradOutput: dy, input: x, weight: weight, geometry: c.geometry, needInput: true, needWeight: false)
            let theirs = reference.conv2dBackward(gradOutput: dy, input: x, weight: weight, geometry: c.geometry, needInput: true, needWeight: false)
            assertClose(ours.input!, theirs.input!, tolerance: 1e-4, "backward data, \(what)", file: #filePath, line: #line)
        }
        XCTAssertEqual(backend.conv2d(x, weight: original, geometry: c.geometry), before)
    }

    /// Layers of one shape share a plan; each keeps its own reordered weights, so that alternating
    /// between them (layer after layer, step after step) reorders each weight once.
    func testLayersOfOneShapeKeepTheirOwnReorderedWeights() {
        let backend = DNNLBackend()
        var rng = SeededRandom(seed: 10)
        let c = Self.cases[0]
        let (x, w1, _) = Self.operands(c, using: &rng)
        let w2 = w1 * 2, bx = x.converted(to: .channelBlocked16)   // blocked in and out: only weights reorder
        let first = [backend.conv2d(bx, weight: w1, geometry: c.geometry), backend.conv2d(bx, weight: w2, geometry: c.geometry)]
        Profiler.reset()
        Profiler.isEnabled = true
        defer { Profiler.isEnabled = false }
        for _ in 0..<3 {
            XCTAssertEqual(backend.conv2d(bx, weight: w1, geometry: c.geometry), first[0])
            XCTAssertEqual(backend.conv2d(bx, weight: w2, geometry: c.geometry), first[1])
        }
        let reorders = Profiler.report().first { $0.name == "oneDNN: boundary reorder" }?.entry.calls ?? 0
        XCTAssertEqual(reorders, 0, "weights reordered again although neither changed")
    }

    func testBackendNamesParse() {
        XCTAssertEqual(BackendKind(rawValue: "reference"), .reference)
        XCTAssertEqual(BackendKind(rawValue: "onednn"), .onednn)
        XCTAssertNil(BackendKind(rawValue: "mkl"))
        XCTAssertTrue(BackendKind.onednn.make() is DNNLBackend)
        XCTAssertTrue(BackendKind.reference.make() is CPUBackend)
    }

    // MARK: helpers

    static func operands(_ c: Case, using rng: inout SeededRandom) -> (x: Tensor, weight: Tensor, gradOutput: Tensor) {
        let g = c.geometry
        let (oh, ow) = g.outputSize(height: c.input[2], width: c.input[3])
        let x = Tensor.normal(shape: c.input, using: &rng)
        let w = Tensor.normal(shape: [c.outChannels, c.input[1], g.kernelHeight, g.kernelWidth], using: &rng)
        let dy = Tensor.normal(shape: [c.input[0], c.outChannels, oh, ow], using: &rng)
        return (x, w, dy)
    }

    func compareAllPasses(_ backend: DNNLBackend, tolerance: Float, file: StaticString = #filePath, line: UInt = #line) {
        let reference = CPUBackend()
        for (i, c) in Self.cases.enumerated() {
            var rng = SeededRandom(seed: UInt64(i))
            let (x, w, dy) = Self.operands(c, using: &rng)
            let what = "case \(i): \(c.input) → \(c.outChannels), \(c.geometry)"
            assertClose(backend.conv2d(x, weight: w, geometry: c.geometry), reference.conv2d(x, weight: w, geometry: c.geometry),
                        tolerance: tolerance, "forward, \(what)", file: file, line: line)
            // With a bias argument and the ReLU post-op (a folded batch norm's convolution).
            let bias = Tensor.normal(shape: [c.outChannels], using: &rng)
            for relu in [false, true] {
                assertClose(backend.conv2d(x, weight: w, bias: bias, relu: relu, geometry: c.geometry),
                            reference.conv2d(x, weight: w, bias: bias, relu: relu, geometry: c.geometry),
                            tolerance: tolerance, "forward with bias\(relu ? " and ReLU" : ""), \(what)", file: file, line: line)
            }
            let ours = backend.conv2dBackward(gradOutput: dy, input: x, weight: w, geometry: c.geometry, needInput: true, needWeight: true)
            let theirs = reference.conv2dBackward(gradOutput: dy, input: x, weight: w, geometry: c.geometry, needInput: true, needWeight: true)
            assertClose(ours.input!, theirs.input!, tolerance: tolerance, "backward data, \(what)", file: file, line: line)
            assertClose(ours.weight!, theirs.weight!, tolerance: tolerance, "backward weights, \(what)", file: file, line: line)
            // The same passes with the activations handed in channel-blocked, as layer after layer does.
            let bx = TensorLayout.channelBlocked16.admits(x.shape) ? x.converted(to: .channelBlocked16) : x
            let bdy = TensorLayout.channelBlocked16.admits(dy.shape) ? dy.converted(to: .channelBlocked16) : dy
            guard bx.layout != .plain || bdy.layout != .plain else { continue }
            assertClose(backend.conv2d(bx, weight: w, geometry: c.geometry), reference.conv2d(x, weight: w, geometry: c.geometry),
                        tolerance: tolerance, "forward, blocked, \(what)", file: file, line: line)
            assertClose(backend.conv2d(bx, weight: w, bias: bias, relu: true, geometry: c.geometry),
                        reference.conv2d(x, weight: w, bias: bias, relu: true, geometry: c.geometry),
                        tolerance: tolerance, "forward with bias and ReLU, blocked, \(what)", file: file, line: line)
            let blocked = backend.conv2dBackward(gradOutput: bdy, input: bx, weight: w, geometry: c.geometry, needInput: true, needWeight: true)
            assertClose(blocked.input!, theirs.input!, tolerance: tolerance, "backward data, blocked, \(what)", file: file, line: line)
            assertClose(blocked.weight!, theirs.weight!, tolerance: tolerance, "backward weights, blocked, \(what)", file: file, line: line)
        }
        if ProcessInfo.processInfo.environment["ATALP_TEST_VERBOSE"] != nil { backend.implementations().forEach { print($0) } }
    }

    func assertClose(_ a: Tensor, _ b: Tensor, tolerance: Float, _ what: String, file: StaticString, line: UInt) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        let scale = b.scalars.map(abs).max() ?? 0
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance * max(scale, 1e-6), "\(what): max |Δ| \(worst), max |reference| \(scale)",
                                 file: file, line: line)
        if ProcessInfo.processInfo.environment["ATALP_TEST_VERBOSE"] != nil {
            print("\(what): relative error \(worst / max(scale, 1e-6))")
        }
    }
}

extension DNNLBackendTests {
    /// The suite can run on either backend (`ATALP_BACKEND=onednn swift test …`): check it is the one asked for.
    func testTensorBackendFollowsTheEnvironment() {
        XCTAssertEqual(Tensor.backend is DNNLBackend, BackendKind.current == .onednn)
        XCTAssertEqual(Tensor.backend is CPUBackend, BackendKind.current == .reference)
    }
}
