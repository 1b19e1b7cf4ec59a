import Tensors

/// Σ of every element → scalar.  dx = dy broadcast.
public func sum(_ x: Variable) -> Variable {
    let shape = x.shape
    return x.recordingTape.record(Tensor(scalar: x.value.sum()), inputs: [x]) { [x = x.slot] dy in
        x.accumulateGradient(Tensor(shape: shape, repeating: dy.scalar))
    }
}

/// Mean of every element → scalar.  dx = dy / count broadcast.
public func mean(_ x: Variable) -> Variable {
    let shape = x.shape, n = Float(x.value.count)
    return x.recordingTape.record(Tensor(scalar: x.value.mean()), inputs: [x]) { [x = x.slot] dy in
        x.accumulateGradient(Tensor(shape: shape, repeating: dy.scalar / n))
    }
}

/// N×… → [N], the sum of each row.  dx[n, …] = dy[n].
public func sumPerRow(_ x: Variable) -> Variable {
    let shape = x.shape
    return x.recordingTape.record(x.value.sumPerRow(), inputs: [x]) { [x = x.slot] dy in
        x.accumulateGradient(Tensor(shape: shape, repeating: 1).scalingRows(by: dy))
    }
}

/// N×C×H×W → N×(H·W), the mean over channels.  dx[n, c, p] = dy[n, p] / C.
public func meanOverChannels(_ x: Variable) -> Variable {
    let (n, c, h, w) = x.value.nchw
    return x.recordingTape.record(x.value.meanOverChannels(), inputs: [x]) { [x = x.slot] dy in
        let plane = h * w, scale = 1 / Float(c)
        let dx = dy.withUnsafeBufferPointer { g in
            Tensor(shape: [n, c, h, w]) { out in
                for i in 0..<n {
                    for ch in 0..<c {
                        for j in 0..<plane { out[(i * c + ch) * plane + j] = g[i * plane + j] * scale }
                    }
                }
            }
        }
        x.accumulateGradient(dx)
    }
}
