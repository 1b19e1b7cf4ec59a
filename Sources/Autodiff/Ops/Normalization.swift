import Foundation
import Tensors

/// Each row of an N×D matrix divided by its L2 norm: y = q / max(‖q‖₂, ε).
/// dq = (dy − y·⟨y, dy⟩) / ‖q‖₂  (the projection of dy orthogonal to y, scaled).
public func l2NormalizeRows(_ q: Variable, epsilon: Float = 1e-12) -> Variable {
    precondition(q.value.rank == 2, "l2NormalizeRows needs a matrix, got \(q.shape)")
    let n = q.shape[0], d = q.shape[1]
    let norms = q.value.withUnsafeBufferPointer { x in
        (0..<n).map { i -> Float in
            var s = 0.0
            for j in 0..<d { s += Double(x[i * d + j]) * Double(x[i * d + j]) }
            return max(Float(s.squareRoot()), epsilon)
        }
    }
    let normT = Tensor(shape: [n], values: norms)
    let y = q.value.scalingRows(by: normT.map { 1 / $0 })
    return q.recordingTape.record(y, inputs: [q]) { [q = q.slot] dy in
        let dq = dy.withUnsafeBufferPointer { g in y.withUnsafeBufferPointer { yb in
            Tensor(shape: [n, d]) { out in
                for i in 0..<n {
                    var dot = 0.0
                    for j in 0..<d { dot += Double(yb[i * d + j]) * Double(g[i * d + j]) }
                    let inv = 1 / norms[i], dp = Float(dot)
                    for j in 0..<d { out[i * d + j] = (g[i * d + j] - yb[i * d + j] * dp) * inv }
                }
            }
        } }
        q.accumulateGradient(dq)
    }
}

/// N×D → [N]: the p-norm of each row, ‖x‖_p = (Σ|x|^p)^(1/p), p ≥ 1.
/// d/dx = |x|^(p−1)·sign(x) / ‖x‖_p^(p−1); at a zero row the subgradient 0 is used.
public func pNormPerRow(_ x: Variable, p: Float = 2) -> Variable {
    precondition(x.value.rank == 2 && p >= 1, "pNormPerRow needs a matrix and p ≥ 1")
    let n = x.shape[0], d = x.shape[1]
    let norms = x.value.withUnsafeBufferPointer { v in
        (0..<n).map { i -> Float in
            var s = 0.0
            for j in 0..<d { s += pow(Double(abs(v[i * d + j])), Double(p)) }
            return Float(pow(s, 1 / Double(p)))
        }
    }
    return x.recordingTape.record(Tensor(shape: [n], values: norms), inputs: [x]) { dy in
        let dx = dy.withUnsafeBufferPointer { g in x.value.withUnsafeBufferPointer { v in
            Tensor(shape: [n, d]) { out in
                for i in 0..<n {
                    let nrm = norms[i]
                    guard nrm > 0 else { for j in 0..<d { out[i * d + j] = 0 }; continue }
                    let scale = g[i] / powf(nrm, p - 1)
                    for j in 0..<d {
                        let a = v[i * d + j]
                        out[i * d + j] = a == 0 ? 0 : scale * powf(abs(a), p - 1) * (a > 0 ? 1 : -1)
                    }
                }
            }
        } }
        x.accumulateGradient(dx)
    }
}
