import Tensors

/// max(x, 0).  dx = dy where x > 0, else 0 (the subgradient 0 at the kink).
public func relu(_ x: Variable) -> Variable {
    let y = Profiler.measure("relu forward") { x.value.map { max($0, 0) } }
    return x.recordingTape.record(y, inputs: [x]) { dy in
        x.accumulateGradient(Profiler.measure("relu backward") { dy.zipMap(y) { g, out in out > 0 ? g : 0 } })
    }
}

/// max(a + b, 0): a residual connection and its ReLU in one pass.  da = db = dy where the output > 0.
public func addReLU(_ a: Variable, _ b: Variable) -> Variable {
    let y = Profiler.measure("add+relu forward") { a.value.zipMap(b.value) { max($0 + $1, 0) } }
    return a.recordingTape.record(y, inputs: [a, b]) { dy in
        let g = Profiler.measure("add+relu backward") { dy.zipMap(y) { g, out in out > 0 ? g : 0 } }
        a.accumulateGradient(g)
        b.accumulateGradient(g)
    }
}
