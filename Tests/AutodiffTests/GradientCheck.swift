import XCTest
import Autodiff
import Tensors

/// Central finite differences against the tape's gradients.
///
/// The scalar checked is L = Σ f(x)·R for a fixed random R (R is the seed of the backward pass), so
/// every output element takes part; L is summed in Double from the Float32 outputs. Each input gets
/// up to `samples` coordinates checked (all of them when it is small).
func checkGradients(_ inputs: [Tensor], epsilon: Float = 1e-2, tolerance: Double = 2e-2, samples: Int = 48, seed: UInt64 = 7,
                    file: StaticString = #filePath, line: UInt = #line,
                    _ f: @escaping ([Variable]) -> Variable) {
    var rng = SeededRandom(seed: seed)
    let tape = Tape()
    let vars = inputs.map { tape.input($0, requiresGradient: true) }
    let out = f(vars)
    let r = Tensor.normal(shape: out.shape, using: &rng)
    tape.backward(from: out, seed: r)

    func loss(_ xs: [Tensor]) -> Double {
        let t = Tape()
        let y = f(xs.map { t.input($0, requiresGradient: false) }).value
        return y.withUnsafeBufferPointer { yb in r.withUnsafeBufferPointer { rb in
            var s = 0.0
            for i in 0..<yb.count { s += Double(yb[i]) * Double(rb[i]) }
            return s
        } }
    }

    for (k, v) in vars.enumerated() {
        guard let analytic = v.gradient else { XCTFail("input \(k) got no gradient", file: file, line: line); continue }
        let indices = inputs[k].count <= samples ? Array(0..<inputs[k].count)
            : (0..<samples).map { _ in Int(rng.next() % UInt64(inputs[k].count)) }
        for i in indices {
            var plus = inputs, minus = inputs
            plus[k].withUnsafeMutableBufferPointer { $0[i] += epsilon }
            minus[k].withUnsafeMutableBufferPointer { $0[i] -= epsilon }
            let numeric = (loss(plus) - loss(minus)) / Double(2 * epsilon)
            let a = Double(analytic.scalars[i])
            let scale = max(1, abs(numeric), abs(a))
            XCTAssertLessThanOrEqual(abs(numeric - a), tolerance * scale,
                                     "input \(k), element \(i): analytic \(a), numeric \(numeric)", file: file, line: line)
        }
    }
}

/// A random tensor whose entries stay at least `margin` away from zero, so that finite differences
/// of ReLU-like ops do not straddle a kink.
func awayFromZero(_ shape: [Int], margin: Float = 0.05, rng: inout SeededRandom) -> Tensor {
    Tensor.uniform(shape: shape, in: -1...1, using: &rng).map { $0 >= 0 ? $0 + margin : $0 - margin }
}
