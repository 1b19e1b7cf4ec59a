import Foundation
import Tensors

/// Row-wise softmax of an N×D matrix.  dx = y ⊙ (dy − ⟨dy, y⟩) per row.
public func softmax(_ x: Variable) -> Variable {
    precondition(x.value.rank == 2, "softmax needs a matrix, got \(x.shape)")
    let y = x.value.softmaxRows()
    let n = y.shape[0], d = y.shape[1]
    return x.recordingTape.record(y, inputs: [x]) { dy in
        let dx = dy.withUnsafeBufferPointer { g in y.withUnsafeBufferPointer { p in
            Tensor(shape: [n, d]) { out in
                for i in 0..<n {
                    var dot: Float = 0
                    for j in 0..<d { dot += g[i * d + j] * p[i * d + j] }
                    for j in 0..<d { out[i * d + j] = p[i * d + j] * (g[i * d + j] - dot) }
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
