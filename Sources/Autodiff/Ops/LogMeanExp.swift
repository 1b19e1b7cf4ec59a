import Foundation
import Tensors

/// y = log( (1/K)·Σ_k exp(a_k) ) elementwise over K variables of one shape, computed stably
/// (shifted by the elementwise maximum, so that it stays finite when every exp(a_k) underflows).
/// da_k = dy ⊙ w_k with w_k = exp(a_k − m) / Σ_j exp(a_j − m), m = max_k a_k.
///
/// With a_k = log softmax(z_k), y = log of the mean of K softmax predictions: an ensemble's logits.
/// (log of an explicitly averaged softmax is −∞ where every member's probability underflows, and
/// its gradient NaN there — an attack would silently stall on exactly the examples it is winning.)
///
///     // a_1 = log 0.2, a_2 = log 0.6: y = log 0.4, w = (0.25, 0.75)
public func logMeanExp(_ parts: [Variable]) -> Variable {
    precondition(!parts.isEmpty && parts.allSatisfy { $0.shape == parts[0].shape }, "logMeanExp of shapes \(parts.map(\.shape))")
    let k = parts.count, count = parts[0].value.count, shape = parts[0].shape
    let logK = Foundation.log(Float(k))
    var weights = [[Float]](repeating: [Float](repeating: 0, count: count), count: k)
    var y = [Float](repeating: 0, count: count)
    let values = parts.map(\.value.scalars)
    for i in 0..<count {
        var m = -Float.infinity
        for p in 0..<k { m = max(m, values[p][i]) }
        guard m > -Float.infinity else { y[i] = -.infinity; continue }
        var total: Float = 0
        for p in 0..<k { let e = expf(values[p][i] - m); weights[p][i] = e; total += e }
        for p in 0..<k { weights[p][i] /= total }
        y[i] = m + Foundation.log(total) - logK
    }
    return parts[0].recordingTape.record(Tensor(shape: shape, values: y), inputs: parts) { [parts = parts.map(\.slot)] dy in
        for (p, part) in parts.enumerated() where part.requiresGradient {
            part.accumulateGradient(dy * Tensor(shape: shape, values: weights[p]))
        }
    }
}
