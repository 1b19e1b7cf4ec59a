import Foundation
import Tensors

/// N×D → N×(D−1): each row without the column of its label (ADP's "non-maximal predictions",
/// Pang et al.: the prediction vector with the true class removed).  dx scatters dy back, 0 at the label.
public func removingLabelColumn(_ x: Variable, labels: [Int]) -> Variable {
    precondition(x.value.rank == 2 && labels.count == x.shape[0], "removingLabelColumn of \(x.shape) with \(labels.count) labels")
    let n = x.shape[0], d = x.shape[1]
    let y = x.value.withUnsafeBufferPointer { src in
        Tensor(shape: [n, d - 1]) { out in
            for i in 0..<n {
                var o = 0
                for j in 0..<d where j != labels[i] { out[i * (d - 1) + o] = src[i * d + j]; o += 1 }
            }
        }
    }
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        let dx = dy.withUnsafeBufferPointer { g in
            Tensor(shape: [n, d]) { out in
                for i in 0..<n {
                    var o = 0
                    for j in 0..<d {
                        if j == labels[i] { out[i * d + j] = 0 } else { out[i * d + j] = g[i * (d - 1) + o]; o += 1 }
                    }
                }
            }
        }
        x.accumulateGradient(dx)
    }
}

/// K variables of shape N×D stacked along a new axis 1 → N×K×D.  Each input gets its slice of dy.
public func stackAlongAxis1(_ parts: [Variable]) -> Variable {
    precondition(!parts.isEmpty && parts.allSatisfy { $0.value.rank == 2 && $0.shape == parts[0].shape },
                 "stackAlongAxis1 needs matrices of one shape, got \(parts.map(\.shape))")
    let n = parts[0].shape[0], d = parts[0].shape[1], k = parts.count
    let y = Tensor(shape: [n, k, d]) { out in
        for (m, p) in parts.enumerated() {
            p.value.withUnsafeBufferPointer { src in
                for i in 0..<n { (out.baseAddress! + (i * k + m) * d).update(from: src.baseAddress! + i * d, count: d) }
            }
        }
    }
    return parts[0].recordingTape.record(y, inputs: parts) { [parts = parts.map(\.slot)] dy in
        dy.withUnsafeBufferPointer { g in
            for (m, p) in parts.enumerated() where p.requiresGradient {
                p.accumulateGradient(Tensor(shape: [n, d]) { out in
                    for i in 0..<n { (out.baseAddress! + i * d).update(from: g.baseAddress! + (i * k + m) * d, count: d) }
                })
            }
        }
    }
}

/// Per-example softmax cross-entropy of N×D logits → [N]: ℓᵢ = −log softmax(zᵢ)[yᵢ].
/// dz[i] = (softmax(zᵢ) − onehot(yᵢ))·dℓᵢ.  (IGR's finite difference needs each example's loss.)
public func softmaxCrossEntropyPerExample(_ logits: Variable, labels: [Int]) -> Variable {
    let n = logits.shape[0], d = logits.shape[1]
    precondition(labels.count == n, "\(labels.count) labels for \(n) logits")
    let logProbs = logits.value.logSoftmaxRows()
    let losses = logProbs.withUnsafeBufferPointer { lp in (0..<n).map { -lp[$0 * d + labels[$0]] } }
    return logits.recordingTape.record(Tensor(shape: [n], values: losses), inputs: [logits]) { [logits = logits.slot] dy in
        let dz = logProbs.withUnsafeBufferPointer { lp in dy.withUnsafeBufferPointer { g in
            Tensor(shape: [n, d]) { out in
                for i in 0..<n {
                    for j in 0..<d { out[i * d + j] = expf(lp[i * d + j]) * g[i] }
                    out[i * d + labels[i]] -= g[i]
                }
            }
        } }
        logits.accumulateGradient(dz)
    }
}

/// A constant added to a variable of the same shape (e.g. δ·I under a log-determinant).  dx = dy.
public func + (a: Variable, constant: Tensor) -> Variable {
    precondition(a.shape == constant.shape, "shapes differ: \(a.shape) and \(constant.shape)")
    return a.recordingTape.record(a.value + constant, inputs: [a]) { [a = a.slot] dy in a.accumulateGradient(dy) }
}
