import Tensors

/// y = x·Wᵀ + b, x: N×I, W: O×I (PyTorch's layout), b: O.
/// dx = dy·W,  dW = dyᵀ·x,  db = Σₙ dy.
public func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
    var y = Tensor.backend.matmul(x.value, transposed: false, weight.value, transposed: true)
    if let bias { y = y.addingRow(bias.value) }
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return x.recordingTape.record(y, inputs: inputs) { dy in
        if x.requiresGradient { x.accumulateGradient(Tensor.backend.matmul(dy, transposed: false, weight.value, transposed: false)) }
        if weight.requiresGradient { weight.accumulateGradient(Tensor.backend.matmul(dy, transposed: true, x.value, transposed: false)) }
        if let bias, bias.requiresGradient { bias.accumulateGradient(dy.sumOverRows()) }
    }
}

/// General matrix product a·b of two matrices.  da = dy·bᵀ, db = aᵀ·dy.
public func matmul(_ a: Variable, _ b: Variable) -> Variable {
    let y = Tensor.backend.matmul(a.value, transposed: false, b.value, transposed: false)
    return a.recordingTape.record(y, inputs: [a, b]) { dy in
        if a.requiresGradient { a.accumulateGradient(Tensor.backend.matmul(dy, transposed: false, b.value, transposed: true)) }
        if b.requiresGradient { b.accumulateGradient(Tensor.backend.matmul(a.value, transposed: true, dy, transposed: false)) }
    }
}
