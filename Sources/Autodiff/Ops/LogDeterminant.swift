import Foundation
import Tensors

/// log|det A| of each matrix of a B×K×K tensor → [B], by LU decomposition with partial pivoting
/// in Double (K is small: ADP's K×K Gram matrix of K ensemble members).
/// d log|det A| / dA = A⁻ᵀ, so dA[b] = dy[b]·A[b]⁻ᵀ.
///
///     // det [[2, 1], [1, 2]] = 3: log 3 ≈ 1.0986; gradient A⁻ᵀ = [[2, −1], [−1, 2]] / 3
public func logDeterminant(_ a: Variable) -> Variable {
    precondition(a.value.rank == 3 && a.shape[1] == a.shape[2], "logDeterminant needs B×K×K, got \(a.shape)")
    let b = a.shape[0], k = a.shape[1]
    var logDets = [Float](repeating: 0, count: b)
    var inverses = [Double](repeating: 0, count: b * k * k)
    a.value.withUnsafeBufferPointer { src in
        for i in 0..<b {
            let m = (0..<(k * k)).map { Double(src[i * k * k + $0]) }
            let (logDet, inverse) = luLogDeterminantAndInverse(m, k)
            logDets[i] = Float(logDet)
            for j in 0..<(k * k) { inverses[i * k * k + j] = inverse[j] }
        }
    }
    return a.recordingTape.record(Tensor(shape: [b], values: logDets), inputs: [a]) { [a = a.slot] dy in
        let da = dy.withUnsafeBufferPointer { g in
            Tensor(shape: [b, k, k]) { out in
                for i in 0..<b {
                    for r in 0..<k { for c in 0..<k { out[i * k * k + r * k + c] = g[i] * Float(inverses[i * k * k + c * k + r]) } }
                }
            }
        }
        a.accumulateGradient(da)
    }
}

/// log|det M| and M⁻¹ (row-major K×K) by Doolittle LU with partial pivoting. A singular matrix gives
/// −∞ and a zero "inverse" (so the gradient is zero rather than NaN).
func luLogDeterminantAndInverse(_ m: [Double], _ k: Int) -> (Double, [Double]) {
    var lu = m
    var perm = Array(0..<k)
    var logDet = 0.0
    for col in 0..<k {
        var pivot = col
        for r in col + 1..<k where abs(lu[r * k + col]) > abs(lu[pivot * k + col]) { pivot = r }
        if lu[pivot * k + col] == 0 { return (-.infinity, [Double](repeating: 0, count: k * k)) }
        if pivot != col {
            for c in 0..<k { lu.swapAt(pivot * k + c, col * k + c) }
            perm.swapAt(pivot, col)
        }
        let d = lu[col * k + col]
        logDet += Foundation.log(abs(d))
        for r in col + 1..<k {
            let f = lu[r * k + col] / d
            lu[r * k + col] = f
            for c in col + 1..<k { lu[r * k + c] -= f * lu[col * k + c] }
        }
    }
    // Solve L·U·x = P·e_j for each unit vector: column j of the inverse.
    var inverse = [Double](repeating: 0, count: k * k)
    for j in 0..<k {
        var x = (0..<k).map { perm[$0] == j ? 1.0 : 0.0 }
        for r in 0..<k { for c in 0..<r { x[r] -= lu[r * k + c] * x[c] } }
        for r in stride(from: k - 1, through: 0, by: -1) {
            for c in r + 1..<k { x[r] -= lu[r * k + c] * x[c] }
            x[r] /= lu[r * k + r]
        }
        for r in 0..<k { inverse[r * k + j] = x[r] }
    }
    return (logDet, inverse)
}
