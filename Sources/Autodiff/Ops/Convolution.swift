import Tensors

/// 2-D convolution, x: N×C×H×W, weight: O×C×KH×KW (PyTorch's OIHW) → N×O×Ho×Wo.
/// Backward: dx = col2im(Wᵀ·dY), dW = Σₙ dYₙ·colsₙᵀ — each computed only if its input needs it.
public func conv2d(_ x: Variable, weight: Variable, geometry: Conv2DGeometry) -> Variable {
    let flops = convolutionFlops(input: x.shape, weight: weight.shape, geometry: geometry)
    let y = Profiler.measure("conv2d forward", flops: flops) {
        Tensor.backend.conv2d(x.value, weight: weight.value, geometry: geometry)
    }
    return x.recordingTape.record(y, inputs: [x, weight]) { dy in
        accumulateConvolutionGradients(dy, x: x, weight: weight, geometry: geometry, flops: flops)
    }
}

/// The backward pass of `conv2d` for the output gradient g: dx and dW, each only if its input needs it.
private func accumulateConvolutionGradients(_ g: Tensor, x: Variable, weight: Variable, geometry: Conv2DGeometry, flops: Double) {
    let passes = (x.requiresGradient ? 1.0 : 0) + (weight.requiresGradient ? 1 : 0)
    let (dx, dw) = Profiler.measure("conv2d backward", flops: flops * passes) {
        Tensor.backend.conv2dBackward(gradOutput: g, input: x.value, weight: weight.value, geometry: geometry,
                                      needInput: x.requiresGradient, needWeight: weight.requiresGradient)
    }
    if let dx { x.accumulateGradient(dx) }
    if let dw { weight.accumulateGradient(dw) }
}

/// conv2d(x, W) + b[o], then max(·, 0) when `relu`, in one backend call: the convolution of a batch
/// norm with fixed statistics folded into it (`BatchNorm2d.folding` in NN), bias: [O].
/// Backward: g = dy masked where the output is 0 (with `relu`); dx and dW are conv2d's for g, db = Σ g
/// over all but the channel axis.
public func conv2d(_ x: Variable, weight: Variable, bias: Variable, relu: Bool, geometry: Conv2DGeometry) -> Variable {
    let flops = convolutionFlops(input: x.shape, weight: weight.shape, geometry: geometry)
    let y = Profiler.measure("conv2d forward", flops: flops) {
        Tensor.backend.conv2d(x.value, weight: weight.value, bias: bias.value, relu: relu, geometry: geometry)
    }
    let mask = relu ? y : nil
    return x.recordingTape.record(y, inputs: [x, weight, bias]) { [bias = bias.slot] dy in
        let g = mask.map { m in Profiler.measure("relu backward") { dy.maskedWhereNotPositive(m) } } ?? dy
        accumulateConvolutionGradients(g, x: x, weight: weight, geometry: geometry, flops: flops)
        if bias.requiresGradient { bias.accumulateGradient(sumPerChannel(g)) }
    }
}

/// Multiply-adds ×2 of one convolution pass: 2·N·O·(C·KH·KW)·(Ho·Wo).
func convolutionFlops(input: [Int], weight: [Int], geometry: Conv2DGeometry) -> Double {
    let (oh, ow) = geometry.outputSize(height: input[2], width: input[3])
    return 2 * Double(input[0]) * Double(weight[0]) * Double(weight[1] * weight[2] * weight[3]) * Double(oh * ow)
}

/// Adds a per-channel bias b[c] to an N×C×… tensor.  d/db = Σ over all but the channel axis.
public func addChannelBias(_ x: Variable, _ bias: Variable) -> Variable {
    let c = x.shape[1]
    let y = x.value.channelAffine(scale: Tensor(shape: [c], repeating: 1), shift: bias.value)
    return x.recordingTape.record(y, inputs: [x, bias]) { [x = x.slot, bias = bias.slot] dy in
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
