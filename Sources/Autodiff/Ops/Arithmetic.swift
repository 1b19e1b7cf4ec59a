import Tensors
import Foundation

/// Elementwise arithmetic on variables of equal shape, and with constants.
public func + (a: Variable, b: Variable) -> Variable {
    a.recordingTape.record(Profiler.measure("add") { a.value + b.value }, inputs: [a, b]) { [a = a.slot, b = b.slot] dy in
        a.accumulateGradient(dy)
        b.accumulateGradient(dy)
    }
}

public func - (a: Variable, b: Variable) -> Variable {
    a.recordingTape.record(a.value - b.value, inputs: [a, b]) { [a = a.slot, b = b.slot] dy in
        a.accumulateGradient(dy)
        if b.requiresGradient { b.accumulateGradient(-dy) }
    }
}

/// Elementwise product.  da = dy·b, db = dy·a.
public func * (a: Variable, b: Variable) -> Variable {
    a.recordingTape.record(a.value * b.value, inputs: [a, b]) { dy in
        if a.requiresGradient { a.accumulateGradient(dy * b.value) }
        if b.requiresGradient { b.accumulateGradient(dy * a.value) }
    }
}

public func * (a: Variable, s: Float) -> Variable {
    a.recordingTape.record(a.value * s, inputs: [a]) { [a = a.slot] dy in a.accumulateGradient(dy * s) }
}

public func * (s: Float, a: Variable) -> Variable { a * s }

public func + (a: Variable, s: Float) -> Variable {
    a.recordingTape.record(a.value + s, inputs: [a]) { [a = a.slot] dy in a.accumulateGradient(dy) }
}

/// y[n, c, …] = x[n, c, …]·scale[c] + shift[c] with constant scale and shift (input normalisation).
public func channelAffine(_ x: Variable, scale: Tensor, shift: Tensor) -> Variable {
    let y = x.value.channelAffine(scale: scale, shift: shift)
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        x.accumulateGradient(dy.channelAffine(scale: scale, shift: Tensor(shape: [scale.count])))
    }
}

/// |x|^p elementwise, p > 0.  d/dx = p·|x|^(p−1)·sign(x) (0 at x = 0 for p ≥ 1).
public func powAbs(_ x: Variable, _ p: Float) -> Variable {
    if p == 2 { return square(x) }
    let y = x.value.map { powf(abs($0), p) }
    return x.recordingTape.record(y, inputs: [x]) { dy in
        let d = x.value.map { v in v == 0 ? 0 : p * powf(abs(v), p - 1) * (v > 0 ? 1 : -1) }
        x.accumulateGradient(dy * d)
    }
}

/// x² elementwise.  d/dx = 2x.
public func square(_ x: Variable) -> Variable {
    x.recordingTape.record(x.value * x.value, inputs: [x]) { dy in
        x.accumulateGradient(dy.zipMap(x.value) { g, v in 2 * v * g })
    }
}
