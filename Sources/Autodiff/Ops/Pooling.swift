import Tensors

/// Max pooling; the gradient flows to the arg-max of each window.
public func maxPool2d(_ x: Variable, geometry: Conv2DGeometry) -> Variable {
    let (y, argmax) = Tensor.backend.maxPool2d(x.value, geometry: geometry)
    let inputShape = x.shape
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        x.accumulateGradient(Tensor.backend.maxPool2dBackward(gradOutput: dy, argmax: argmax, inputShape: inputShape))
    }
}

/// Average pooling (padding counts as zeros); each input gets dy / window size from every window it is in.
public func avgPool2d(_ x: Variable, geometry: Conv2DGeometry) -> Variable {
    let y = Tensor.backend.avgPool2d(x.value, geometry: geometry)
    let inputShape = x.shape
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        x.accumulateGradient(Tensor.backend.avgPool2dBackward(gradOutput: dy, inputShape: inputShape, geometry: geometry))
    }
}

/// N×C×H×W → N×C, the mean of each plane.  dx = dy / (H·W) broadcast over the plane.
public func globalAvgPool(_ x: Variable) -> Variable {
    let (n, c, h, w) = x.value.nchw
    let y = x.value.meanOverSpatial()
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        let plane = h * w, scale = 1 / Float(plane)
        let dx = dy.withUnsafeBufferPointer { g in
            Tensor(shape: [n, c, h, w]) { out in
                for p in 0..<(n * c) {
                    let v = g[p] * scale
                    for j in 0..<plane { out[p * plane + j] = v }
                }
            }
        }
        x.accumulateGradient(dx)
    }
}
