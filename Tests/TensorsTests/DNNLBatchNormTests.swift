import XCTest
@testable import Tensors

/// The oneDNN backend's batch norm (forward and backward, batch and fixed statistics, with and without
/// the fused ReLU) on blocked inputs against the reference backend's: oneDNN's primitive, and
/// `BlockedBatchNorm` where a tensor has fewer 16-channel blocks than threads (a backend of 1 thread
/// runs every blocked shape on oneDNN, one of 4 threads the 16- and 32-channel ones on the own kernel);
/// plain inputs, which the oneDNN backend hands to the reference kernels, must come back the same through it.
///
/// Tolerance: oneDNN sums the statistics in Float32 where the reference sums in Double, and the
/// backward pass's reductions run in another order, so the two differ by rounding: bounded by 1e-4 ×
/// the largest magnitude of the reference result (for dx, of the terms it is the difference of); a
/// wrong index, mask or formula gives errors of order 1.
final class DNNLBatchNormTests: XCTestCase {
    static let shapes: [[Int]] = [[4, 16, 5, 5], [2, 32, 3, 7], [3, 5, 4, 4], [1, 16, 1, 2]]

    func testMatchesTheReference() {
        for threads in [1, 4] { matchesTheReference(DNNLBackend(threads: threads)) }
    }

    func matchesTheReference(_ oneDNN: DNNLBackend) {
        let reference = CPUBackend()
        for (i, shape) in Self.shapes.enumerated() {
            let c = shape[1]
            var rng = SeededRandom(seed: UInt64(10 + i))
            let x = Tensor.normal(shape: shape, using: &rng) * 2 + 0.5
            let dy = Tensor.normal(shape: shape, using: &rng)
            let gamma = Tensor.uniform(shape: [c], in: 0.5...1.5, using: &rng)
            let beta = Tensor.normal(shape: [c], using: &rng)
            let runningMean = Tensor.normal(shape: [c], using: &rng) * 0.1
            let runningVariance = Tensor.uniform(shape: [c], in: 0.5...2, using: &rng)
            let layouts: [TensorLayout] = TensorLayout.channelBlocked16.admits(shape) ? [.plain, .channelBlocked16] : [.plain]
            for layout in layouts {
                for mode in [BatchNormMode.batchStatistics, .fixed(mean: runningMean, variance: runningVariance)] {
                    for relu in [false, true] {
                        let fixed: Bool = { if case .fixed = mode { return true } else { return false } }()
                        let xl = x.converted(to: layout), dyl = dy.converted(to: layout)
                        let kernel = layout == .plain ? "reference" : oneDNN.runsBlockedKernel(xl) ? "own blocked" : "oneDNN"
                        let what = "\(shape) \(layout) \(fixed ? "fixed" : "batch") statistics\(relu ? " + ReLU" : ""), \(kernel) kernel"
                        let ours = oneDNN.batchNormForward(xl, gamma: gamma, beta: beta, mode: mode, epsilon: 1e-5, relu: relu)
                        let theirs = reference.batchNormForward(x, gamma: gamma, beta: beta, mode: mode, epsilon: 1e-5, relu: relu)
                        XCTAssertEqual(ours.output.layout, layout, what)
                        assertClose(ours.output, theirs.output, "output, \(what)")
                        assertClose(ours.mean, theirs.mean, "mean, \(what)")
                        assertClose(ours.inverseStd, theirs.inverseStd, "σ⁻¹, \(what)")
                        XCTAssertEqual(ours.unbiasedVariance == nil, theirs.unbiasedVariance == nil, what)
                        if let u = ours.unbiasedVariance, let v = theirs.unbiasedVariance { assertClose(u, v, "unbiased variance, \(what)") }
                        let g = oneDNN.batchNormBackward(gradOutput: dyl, input: xl, gamma: gamma, saved: ours, reluOutput: relu ? ours.output : nil,
                                                         needInput: true, needAffine: true)
                        let r = reference.batchNormBackward(gradOutput: dy, input: x, gamma: gamma, saved: theirs,
                                                            reluOutput: relu ? theirs.output : nil, needInput: true, needAffine: true)
                        XCTAssertEqual(g.input?.layout, layout, what)
                        // dx is a difference of terms of size |dy|·γσ⁻¹ that cancel when M is small: measure against those.
                        let terms = (dy.scalars.map(abs).max() ?? 0) * ((gamma * theirs.inverseStd).scalars.map(abs).max() ?? 0)
                        assertClose(g.input!, r.input!, "dx, \(what)", scale: terms)
                        assertClose(g.gamma!, r.gamma!, "dγ, \(what)")
                        assertClose(g.beta!, r.beta!, "dβ, \(what)")
                        let onlyInput = oneDNN.batchNormBackward(gradOutput: dyl, input: xl, gamma: gamma, saved: ours,
                                                                 reluOutput: relu ? ours.output : nil, needInput: true, needAffine: false)
                        XCTAssertNil(onlyInput.gamma, what)
                        XCTAssertEqual(onlyInput.input, g.input, what)
                    }
                }
            }
        }
    }

    /// DESIGN.md, "Determinism": the same inputs give the same bytes (the statistics are reduced over
    /// threads), on oneDNN's kernel (32 channels on 1 thread) and the own one (16 channels on 4).
    func testSameInputsGiveTheSameBytes() {
        for (channels, threads) in [(32, 1), (16, 4)] {
            var rng = SeededRandom(seed: 3)
            let x = Tensor.normal(shape: [8, channels, 6, 6], using: &rng).converted(to: .channelBlocked16)
            let dy = Tensor.normal(shape: [8, channels, 6, 6], using: &rng).converted(to: .channelBlocked16)
            let gamma = Tensor(shape: [channels], repeating: 1.2), beta = Tensor(shape: [channels], repeating: 0.1)
            let runs = (0..<2).map { _ in
                let backend = DNNLBackend(threads: threads)
                let f = backend.batchNormForward(x, gamma: gamma, beta: beta, mode: .batchStatistics, epsilon: 1e-5, relu: true)
                let b = backend.batchNormBackward(gradOutput: dy, input: x, gamma: gamma, saved: f, reluOutput: f.output, needInput: true, needAffine: true)
                return [f.output, f.mean, f.inverseStd, b.input!, b.gamma!, b.beta!]
            }
            XCTAssertEqual(runs[0], runs[1], "\(channels) channels on \(threads) threads")
        }
    }

    func testFewerBlocksThanThreadsRunTheOwnKernel() {
        let x = Tensor(shape: [2, 32, 3, 3], repeating: 0).converted(to: .channelBlocked16)
        XCTAssertFalse(DNNLBackend(threads: 2).runsBlockedKernel(x))
        XCTAssertTrue(DNNLBackend(threads: 3).runsBlockedKernel(x))
    }

    /// |a − b| ≤ tolerance × max(|b|, `scale`) elementwise.
    func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, tolerance: Float = 1e-4, scale floor: Float = 0,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        let scale = max(b.scalars.map(abs).max() ?? 0, floor)
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance * max(scale, 1e-6), "\(what): max |Δ| \(worst), max |reference| \(scale)", file: file, line: line)
        if ProcessInfo.processInfo.environment["ATALP_TEST_VERBOSE"] != nil { print("\(what): relative error \(worst / max(scale, 1e-6))") }
    }
}
