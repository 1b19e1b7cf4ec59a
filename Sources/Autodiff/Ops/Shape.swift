import Tensors

/// The same elements with another shape.  dx = dy reshaped back.
public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
    let original = x.shape
    return x.recordingTape.record(x.value.reshaped(shape), inputs: [x]) { [x = x.slot] dy in
        x.accumulateGradient(dy.reshaped(original))
    }
}

/// N×… → N×D, everything after the batch axis in one row.
public func flatten(_ x: Variable) -> Variable {
    reshape(x, [x.shape[0], x.value.count / max(x.shape[0], 1)])
}

/// Variables stacked along the batch axis.  Each input gets its slice of dy.
public func concatenateRows(_ parts: [Variable]) -> Variable {
    let y = Tensor.concatenatingRows(parts.map(\.value))
    return parts[0].recordingTape.record(y, inputs: parts) { [parts = parts.map(\.slot)] dy in
        var start = 0
        for p in parts {
            let n = p.shape[0]
            if p.requiresGradient { p.accumulateGradient(dy.rows(start..<start + n)) }
            start += n
        }
    }
}

/// Rows `range` of the batch axis.  dx is dy in those rows, zero elsewhere.
public func rows(_ x: Variable, _ range: Range<Int>) -> Variable {
    let shape = x.shape
    return x.recordingTape.record(x.value.rows(range), inputs: [x]) { [x = x.slot] dy in
        let inner = dy.count / max(range.count, 1)
        let dx = Tensor(shape: shape) { out in
            out.update(repeating: 0)
            dy.withUnsafeBufferPointer { g in
                if g.count > 0 { (out.baseAddress! + range.lowerBound * inner).update(from: g.baseAddress!, count: g.count) }
            }
        }
        x.accumulateGradient(dx)
    }
}
