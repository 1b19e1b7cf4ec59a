import Foundation
import Tensors

public enum Reduction: Sendable {
    case mean, sum
}

/// Row-wise log-softmax of N×D logits.  dx = dy − softmax·Σⱼ dy.
public func logSoftmax(_ x: Variable) -> Variable {
    let y = x.value.logSoftmaxRows()
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        let n = y.shape[0], d = y.shape[1]
        let dx = dy.withUnsafeBufferPointer { g in y.withUnsafeBufferPointer { ly in
            Tensor(shape: [n, d]) { out in
                for i in 0..<n {
                    var s: Float = 0
                    for j in 0..<d { s += g[i * d + j] }
                    for j in 0..<d { out[i * d + j] = g[i * d + j] - expf(ly[i * d + j]) * s }
                }
            }
        } }
        x.accumulateGradient(dx)
    }
}

/// Softmax cross-entropy of N×D logits against class labels, fused for stability:
/// ℓᵢ = −log softmax(zᵢ)[yᵢ];  dz = (softmax(z) − onehot(y)) · dℓ  (÷N for the mean).
public func softmaxCrossEntropy(_ logits: Variable, labels: [Int], reduction: Reduction = .mean) -> Variable {
    let n = logits.shape[0], d = logits.shape[1]
    precondition(labels.count == n, "\(labels.count) labels for \(n) logits")
    let logProbs = logits.value.logSoftmaxRows()
    var total = 0.0
    logProbs.withUnsafeBufferPointer { lp in
        for i in 0..<n {
            precondition(labels[i] >= 0 && labels[i] < d, "label \(labels[i]) out of range for \(d) classes")
            total -= Double(lp[i * d + labels[i]])
        }
    }
    let scale: Float = reduction == .mean ? 1 / Float(n) : 1
    let loss = Tensor(scalar: Float(total) * scale)
    return logits.recordingTape.record(loss, inputs: [logits]) { [logits = logits.slot] dy in
        let g = dy.scalar * scale
        let dz = logProbs.withUnsafeBufferPointer { lp in
            Tensor(shape: [n, d]) { out in
                for i in 0..<n {
                    for j in 0..<d { out[i * d + j] = expf(lp[i * d + j]) * g }
                    out[i * d + labels[i]] -= g
                }
            }
        }
        logits.accumulateGradient(dz)
    }
}

/// Per-example cross-entropy values (no gradient), for attacks that track each example's loss.
public func crossEntropyPerExample(logits: Tensor, labels: [Int]) -> [Float] {
    let d = logits.shape[1]
    let lp = logits.logSoftmaxRows()
    return lp.withUnsafeBufferPointer { p in labels.enumerated().map { -p[$0.offset * d + $0.element] } }
}

/// Mean squared error: mean over all elements of (a − b)².
public func meanSquaredError(_ a: Variable, _ b: Variable) -> Variable {
    mean(square(a - b))
}
