import Foundation

/// Row-wise softmax and log-softmax of an N×D matrix, shifted by the row maximum for stability.
extension Tensor {
    public func logSoftmaxRows() -> Tensor {
        precondition(rank == 2, "logSoftmaxRows needs a matrix, got \(shape)")
        let n = shape[0], d = shape[1]
        return withUnsafeBufferPointer { x in
            Tensor(shape: shape) { y in
                for i in 0..<n {
                    let row = x.baseAddress! + i * d
                    var m = -Float.infinity
                    for j in 0..<d { m = Swift.max(m, row[j]) }
                    var s = 0.0
                    for j in 0..<d { s += Double(expf(row[j] - m)) }
                    let logZ = m + Float(log(s))
                    for j in 0..<d { y[i * d + j] = row[j] - logZ }
                }
            }
        }
    }

    public func softmaxRows() -> Tensor { logSoftmaxRows().map { expf($0) } }
}
