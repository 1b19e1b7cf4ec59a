import Foundation
import Tensors

/// Row-wise softmax of an N×D matrix, shifted by the row maximum.  dx = y ⊙ (dy − ⟨dy, y⟩) per row.
///
/// Its own kernel rather than `Tensor.softmaxRows` (log-softmax, then exp): one `expf` per element
/// and rows in parallel, because FD's non-local blocks run it on N·HW rows of HW (784 on a 28×28
/// map). The row sum accumulates in Float: D is at most a few thousand and every term is in (0, 1].
public func softmax(_ x: Variable) -> Variable {
    precondition(x.value.rank == 2, "softmax needs a matrix, got \(x.shape)")
    let n = x.shape[0], d = x.shape[1]
    let y = x.value.withUnsafeBufferPointer { src in
        Tensor(shape: [n, d]) { out in
            let s = SendablePointer(src), o = SendablePointer(out)
            Parallel.forEachChunk(n, minimumChunk: max(1, 16_384 / max(d, 1))) { _, rows in
                for i in rows {
                    let row = s.advanced(by: i * d), dst = o.advanced(by: i * d)
                    var m = -Float.infinity
                    for j in 0..<d { m = max(m, row[j]) }
                    var total: Float = 0
                    for j in 0..<d { let e = expf(row[j] - m); dst[j] = e; total += e }
                    let inv = 1 / total
                    for j in 0..<d { dst[j] *= inv }
                }
            }
        }
    }
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        let dx = dy.withUnsafeBufferPointer { g in y.withUnsafeBufferPointer { p in
            Tensor(shape: [n, d]) { out in
                let gp = SendablePointer(g), pp = SendablePointer(p), o = SendablePointer(out)
                Parallel.forEachChunk(n, minimumChunk: max(1, 16_384 / max(d, 1))) { _, rows in
                    for i in rows {
                        let gr = gp.advanced(by: i * d), pr = pp.advanced(by: i * d), dst = o.advanced(by: i * d)
                        var dot: Float = 0
                        for j in 0..<d { dot += gr[j] * pr[j] }
                        for j in 0..<d { dst[j] = pr[j] * (gr[j] - dot) }
                    }
                }
            }
        } }
        x.accumulateGradient(dx)
    }
}

/// Natural logarithm elementwise (inputs must be positive).  dx = dy / x.
public func log(_ x: Variable) -> Variable {
    let y = x.value.map { Foundation.log($0) }
    return x.recordingTape.record(y, inputs: [x]) { dy in
        x.accumulateGradient(dy.zipMap(x.value) { g, v in g / v })
    }
}
