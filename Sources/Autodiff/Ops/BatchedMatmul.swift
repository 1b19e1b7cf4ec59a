import Tensors

/// Batched matrix product of two rank-3 tensors, y[b] = op(a[b])·op(b[b]), where op transposes the
/// last two axes when asked. a: B×M×K (or B×K×M transposed), b: B×K×N (or B×N×K) → B×M×N.
/// Backward, per batch entry, with C = A·B:  dA = dC·Bᵀ,  dB = Aᵀ·dC  (transposes folded in).
///
///     // attention weights of a non-local block: f = θᵀ·φ, θ, φ: N×C×HW → N×HW×HW
///     let f = batchedMatmul(theta, phi, transposeA: true)
public func batchedMatmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
    let y = batchedProduct(a.value, transposeA, b.value, transposeB)
    return a.recordingTape.record(y, inputs: [a, b]) { dy in
        if a.requiresGradient {
            // A = op⁻¹: for ta, dAᵀ = B·dCᵀ (i.e. dA = op(B)·dCᵀ); else dA = dC·op(B)ᵀ.
            let da = transposeA ? batchedProduct(b.value, transposeB, dy, true) : batchedProduct(dy, false, b.value, !transposeB)
            a.accumulateGradient(da)
        }
        if b.requiresGradient {
            // for tb, dBᵀ = op(A)ᵀ·dC → dB = dCᵀ·op(A); else dB = op(A)ᵀ·dC.
            let db = transposeB ? batchedProduct(dy, true, a.value, transposeA) : batchedProduct(a.value, !transposeA, dy, false)
            b.accumulateGradient(db)
        }
    }
}

/// The forward kernel: one sgemm per batch entry through the backend's matmul on 2-D views.
func batchedProduct(_ a: Tensor, _ ta: Bool, _ b: Tensor, _ tb: Bool) -> Tensor {
    precondition(a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0], "batchedMatmul of \(a.shape) and \(b.shape)")
    let batch = a.shape[0]
    let (m, k) = ta ? (a.shape[2], a.shape[1]) : (a.shape[1], a.shape[2])
    let (k2, n) = tb ? (b.shape[2], b.shape[1]) : (b.shape[1], b.shape[2])
    precondition(k == k2, "batchedMatmul: inner sizes \(k) and \(k2) differ (\(a.shape), \(b.shape))")
    var parts: [Tensor] = []
    parts.reserveCapacity(batch)
    for i in 0..<batch {
        let ai = a.rows(i..<i + 1).reshaped([a.shape[1], a.shape[2]])
        let bi = b.rows(i..<i + 1).reshaped([b.shape[1], b.shape[2]])
        parts.append(Tensor.backend.matmul(ai, transposed: ta, bi, transposed: tb).reshaped([1, m, n]))
    }
    return parts.isEmpty ? Tensor(shape: [0, m, n]) : Tensor.concatenatingRows(parts)
}
