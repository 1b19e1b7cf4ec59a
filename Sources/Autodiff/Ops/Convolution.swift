import Tensors

/// 2-D convolution, x: N×C×H×W, weight: O×C×KH×KW (PyTorch's OIHW) → N×O×Ho×Wo.
/// Backward: dx = col2im(Wᵀ·dY), dW = Σₙ dYₙ·colsₙᵀ — each computed only if its input needs it.
public func conv2d(_ x: Variable, weight: Variable, geometry: Conv2DGeometry) -> Variable {
    let y = Tensor.backend.conv2d(x.value, weight: weight.value, geometry: geometry)
    return x.recordingTape.record(y, inputs: [x, weight]) { dy in
        let (dx, dw) = Tensor.backend.conv2dBackward(gradOutput: dy, input: x.value, weight: weight.value, geometry: geometry,
                                                     needInput: x.requiresGradient, needWeight: weight.requiresGradient)
        if let dx { x.accumulateGradient(dx) }
        if let dw { weight.accumulateGradient(dw) }
    }
}

/// Adds a per-channel bias b[c] to an N×C×… tensor.  d/db = Σ over all but the channel axis.
public func addChannelBias(_ x: Variable, _ bias: Variable) -> Variable {
    let c = x.shape[1]
    let y = x.value.channelAffine(scale: Tensor(shape: [c], repeating: 1), shift: bias.value)
    return x.recordingTape.record(y, inputs: [x, bias]) { dy in
        x.accumulateGradient(dy)
        if bias.requiresGradient { bias.accumulateGradient(sumPerChannel(dy)) }
    }
}

/// Σ over every axis but axis 1 of an N×C×… tensor: shape [C].
func sumPerChannel(_ t: Tensor) -> Tensor {
    let n = t.shape[0], c = t.shape[1], inner = t.count / max(n * c, 1)
    return t.withUnsafeBufferPointer { x in
        Tensor(shape: [c]) { out in
            out.update(repeating: 0)
            for p in 0..<(n * c) {
                var s: Float = 0
                for j in 0..<inner { s += x[p * inner + j] }
                out[p % c] += s
            }
        }
    }
}
