import Tensors

/// max(x, 0).  dx = dy where x > 0, else 0 (the subgradient 0 at the kink).
public func relu(_ x: Variable) -> Variable {
    let y = Profiler.measure("relu forward") { x.value.map { max($0, 0) } }
    return x.recordingTape.record(y, inputs: [x]) { dy in
        x.accumulateGradient(Profiler.measure("relu backward") { dy.zipMap(y) { g, out in out > 0 ? g : 0 } })
    }
}
