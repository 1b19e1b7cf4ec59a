import Tensors

/// max(x, 0).  dx = dy where x > 0, else 0 (the subgradient 0 at the kink).
public func relu(_ x: Variable) -> Variable {
    let y = Profiler.measure("relu forward") { x.value.map { max($0, 0) } }
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        x.accumulateGradient(Profiler.measure("relu backward") { dy.maskedWhereNotPositive(y) })
    }
}

/// max(a + b, 0): a residual connection and its ReLU in one pass.  da = db = dy where the output > 0.
public func addReLU(_ a: Variable, _ b: Variable) -> Variable {
    let y = Profiler.measure("add+relu forward") { a.value.addingReLU(b.value) }
    return a.recordingTape.record(y, inputs: [a, b]) { [a = a.slot, b = b.slot] dy in
        let g = Profiler.measure("add+relu backward") { dy.maskedWhereNotPositive(y) }
        a.accumulateGradient(g)
        b.accumulateGradient(g)
    }
}
