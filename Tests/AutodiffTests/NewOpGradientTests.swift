import XCTest
import Foundation
@testable import Autodiff
@testable import NN
import Tensors

/// Finite-difference checks of the ops added for the Table 1 baselines (FD's non-local block, ADP's
/// ensemble regulariser, Randomization's resize and pad, IGR's per-example loss).
final class NewOpGradientTests: XCTestCase {
    func testBatchedMatmulGradientsForEveryTranspose() {
        var rng = SeededRandom(seed: 1)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Tensor.uniform(shape: ta ? [2, 4, 3] : [2, 3, 4], in: -1...1, using: &rng)
            let b = Tensor.uniform(shape: tb ? [2, 5, 4] : [2, 4, 5], in: -1...1, using: &rng)
            checkGradients([a, b]) { v in batchedMatmul(v[0], v[1], transposeA: ta, transposeB: tb) }
        }
    }

    func testBatchedMatmulValue() {
        // [[1, 2], [3, 4]]·[[5], [6]] = [[17], [39]]
        let tape = Tape()
        let a = tape.constant(Tensor(shape: [1, 2, 2], values: [1, 2, 3, 4]))
        let b = tape.constant(Tensor(shape: [1, 2, 1], values: [5, 6]))
        XCTAssertEqual(batchedMatmul(a, b).value.scalars, [17, 39])
    }

    func testSoftmaxAndLogGradients() {
        var rng = SeededRandom(seed: 2)
        checkGradients([Tensor.uniform(shape: [3, 5], in: -2...2, using: &rng)]) { v in softmax(v[0]) }
        checkGradients([Tensor.uniform(shape: [3, 5], in: 0.5...2, using: &rng)], epsilon: 1e-3) { v in log(v[0]) }
    }

    /// The parallel softmax kernel against the reference `Tensor.softmaxRows` on enough rows to split.
    func testSoftmaxMatchesTheReferenceOnManyRows() {
        var rng = SeededRandom(seed: 8)
        let x = Tensor.uniform(shape: [4096, 37], in: -8...8, using: &rng)
        let tape = Tape()
        let fast = softmax(tape.constant(x)).value, reference = x.softmaxRows()
        let worst = zip(fast.scalars, reference.scalars).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-6)
    }

    func testLogMeanExpValueGradientAndUnderflow() {
        // a₁ = log 0.2, a₂ = log 0.6: y = log 0.4
        let tape = Tape()
        let a = tape.constant(Tensor(shape: [1], values: [Float(Foundation.log(0.2))]))
        let b = tape.constant(Tensor(shape: [1], values: [Float(Foundation.log(0.6))]))
        XCTAssertEqual(logMeanExp([a, b]).value.scalar, Float(Foundation.log(0.4)), accuracy: 1e-6)
        // where exp underflows for every part the result stays finite: log((e⁻²⁰⁰ + e⁻²⁰²)/2)
        let c = tape.constant(Tensor(shape: [1], values: [-200])), d = tape.constant(Tensor(shape: [1], values: [-202]))
        XCTAssertEqual(logMeanExp([c, d]).value.scalar, -200 + Float(Foundation.log((1 + exp(-2.0)) / 2)), accuracy: 1e-4)
        var rng = SeededRandom(seed: 9)
        checkGradients((0..<3).map { _ in Tensor.uniform(shape: [2, 4], in: -3...3, using: &rng) }) { v in logMeanExp(v) }
    }

    func testResizeNearestAndPadGradients() {
        var rng = SeededRandom(seed: 3)
        let x = Tensor.uniform(shape: [2, 2, 5, 5], in: -1...1, using: &rng)
        checkGradients([x]) { v in resizeNearest(v[0], height: 7, width: 7) }
        checkGradients([x]) { v in resizeNearest(v[0], height: 3, width: 4) }
        checkGradients([x]) { v in pad2d(v[0], top: 1, bottom: 2, left: 0, right: 3) }
    }

    func testResizeNearestSamplesFloorOfScaledIndex() {
        // 2 → 3: output i samples ⌊i·2/3⌋ = 0, 0, 1.
        let tape = Tape()
        let x = tape.constant(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]))
        XCTAssertEqual(resizeNearest(x, height: 3, width: 3).value.scalars, [1, 1, 2, 1, 1, 2, 3, 3, 4])
        XCTAssertEqual(pad2d(x, top: 1, bottom: 0, left: 0, right: 1).value.scalars, [0, 0, 0, 1, 2, 0, 3, 4, 0])
    }

    func testLogDeterminantValueAndGradient() {
        // det [[2, 1], [1, 2]] = 3; d log det / dA = A⁻ᵀ = [[2, −1], [−1, 2]] / 3.
        let tape = Tape()
        let a = tape.input(Tensor(shape: [1, 2, 2], values: [2, 1, 1, 2]), requiresGradient: true)
        let y = logDeterminant(a)
        XCTAssertEqual(y.value.scalar, Float(3.0).logValue, accuracy: 1e-6)
        tape.backward(from: sum(y))
        for (g, e) in zip(a.gradient!.scalars, [2, -1, -1, 2].map { Float($0) / 3 }) { XCTAssertEqual(g, e, accuracy: 1e-6) }
        // Non-symmetric, needing a pivot: [[0, 1], [2, 3]] has det −2, log|det| = log 2.
        let b = tape.constant(Tensor(shape: [1, 2, 2], values: [0, 1, 2, 3]))
        XCTAssertEqual(logDeterminant(b).value.scalar, Float(2.0).logValue, accuracy: 1e-6)
        var rng = SeededRandom(seed: 4)
        let m = Tensor.uniform(shape: [3, 3, 3], in: -0.5...0.5, using: &rng)
            + Tensor(shape: [3, 3, 3]) { out in out.update(repeating: 0); for i in 0..<3 { for j in 0..<3 { out[i * 9 + j * 4] = 2 } } }
        checkGradients([m], epsilon: 1e-3) { v in logDeterminant(v[0]) }
    }

    func testSelectionOpsGradients() {
        var rng = SeededRandom(seed: 5)
        let x = Tensor.uniform(shape: [3, 4], in: -1...1, using: &rng)
        checkGradients([x]) { v in removingLabelColumn(v[0], labels: [0, 3, 1]) }
        checkGradients([x, Tensor.uniform(shape: [3, 4], in: -1...1, using: &rng)]) { v in stackAlongAxis1([v[0], v[1]]) }
        checkGradients([x]) { v in softmaxCrossEntropyPerExample(v[0], labels: [2, 0, 1]) }
        let tape = Tape()
        XCTAssertEqual(removingLabelColumn(tape.constant(Tensor(shape: [1, 3], values: [7, 8, 9])), labels: [1]).value.scalars, [7, 9])
    }

    func testNonLocalMeansGradients() {
        var rng = SeededRandom(seed: 6)
        let x = Tensor.uniform(shape: [2, 3, 3, 3], in: -1...1, using: &rng)
        let theta = Tensor.uniform(shape: [2, 2, 3, 3], in: -1...1, using: &rng)
        let phi = Tensor.uniform(shape: [2, 2, 3, 3], in: -1...1, using: &rng)
        checkGradients([x, theta, phi], epsilon: 1e-3) { v in nonLocalMeans(v[0], theta: v[1], phi: v[2]) }
    }

    /// The whole FD block (1×1 embeddings, non-local means, 1×1 conv, batch norm, residual) in evaluation
    /// mode, with γ set away from its zero initialisation so that the non-local path carries gradient.
    func testDenoisingBlockGradientAndIdentityAtInitialisation() {
        var rng = SeededRandom(seed: 7)
        let block = NonLocalDenoising(name: "denoise1", channels: 4, rng: &rng)
        XCTAssertEqual(block.parameters.map(\.name), ["denoise1.theta.weight", "denoise1.phi.weight", "denoise1.conv.weight",
                                                      "denoise1.bn.weight", "denoise1.bn.bias"])
        let x = Tensor.uniform(shape: [2, 4, 3, 3], in: -1...1, using: &rng)
        let tape = Tape()
        XCTAssertEqual(block(tape.constant(x), mode: .evaluation).value, x, "γ = 0 at initialisation: the block is the identity")
        block.bn.weight.value = Tensor(shape: [4], values: [1, -0.5, 0.8, 1.2])
        block.theta.weight.value = Tensor.normal(shape: block.theta.weight.value.shape, std: 0.5, using: &rng)
        block.phi.weight.value = Tensor.normal(shape: block.phi.weight.value.shape, std: 0.5, using: &rng)
        XCTAssertNotEqual(evaluate(block, x), x)
        checkGradients([x], epsilon: 1e-3) { v in block(v[0], mode: .evaluation) }
        // and the parameter gradients of a training-mode pass agree with finite differences on θ
        let trainTape = Tape(recordsParameterGradients: true)
        let r = Tensor.normal(shape: x.shape, using: &rng)
        let out = block(trainTape.input(x, requiresGradient: false), mode: .evaluation)
        trainTape.backward(from: out, seed: r)
        let analytic = block.theta.weight.gradient!
        func loss() -> Double {
            let y = evaluate(block, x)
            return zip(y.scalars, r.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        for i in [0, 3, 5] {
            let saved = block.theta.weight.value
            block.theta.weight.value.withUnsafeMutableBufferPointer { $0[i] += 1e-3 }
            let plus = loss()
            block.theta.weight.value = saved
            block.theta.weight.value.withUnsafeMutableBufferPointer { $0[i] -= 1e-3 }
            let minus = loss()
            block.theta.weight.value = saved
            let numeric = (plus - minus) / 2e-3
            XCTAssertEqual(Double(analytic.scalars[i]), numeric, accuracy: 2e-2 * max(1, abs(numeric)), "θ element \(i)")
        }
    }
}

private func evaluate(_ block: NonLocalDenoising, _ x: Tensor) -> Tensor {
    let tape = Tape()
    return withExtendedLifetime(tape) { block(tape.constant(x), mode: .evaluation).value }
}

private extension Float {
    var logValue: Float { Float(Foundation.log(Double(self))) }
}
