/// Reductions: over everything, over rows, over the batch, and over channels (for attention maps).
/// Sums accumulate in Double so that long reductions do not lose the small terms.
extension Tensor {
    public func sum() -> Float {
        withUnsafeBufferPointer { x in
            var s = 0.0
            for i in 0..<x.count { s += Double(x[i]) }
            return Float(s)
        }
    }

    public func mean() -> Float { count == 0 ? 0 : sum() / Float(count) }

    /// For an N×… tensor, the sum of each row: shape [N].
    public func sumPerRow() -> Tensor {
        let n = shape[0], inner = count / Swift.max(n, 1)
        return withUnsafeBufferPointer { x in
            Tensor(shape: [n]) { y in
                for i in 0..<n {
                    var s = 0.0
                    for j in 0..<inner { s += Double(x[i * inner + j]) }
                    y[i] = Float(s)
                }
            }
        }
    }

    /// For an N×D matrix, the sum over the rows: shape [D] (a bias gradient).
    public func sumOverRows() -> Tensor {
        precondition(rank == 2, "sumOverRows needs a matrix, got \(shape)")
        let n = shape[0], d = shape[1]
        return withUnsafeBufferPointer { x in
            Tensor(shape: [d]) { y in
                y.update(repeating: 0)
                for i in 0..<n { for j in 0..<d { y[j] += x[i * d + j] } }
            }
        }
    }

    /// For N×C×H×W, the mean over H and W: shape [N, C] (global average pooling).
    public func meanOverSpatial() -> Tensor {
        let (n, c, h, w) = nchw
        let plane = h * w, scale = 1 / Float(plane)
        return withUnsafeBufferPointer { x in
            Tensor(shape: [n, c]) { y in
                for p in 0..<(n * c) { y[p] = Tensors.sum(x.baseAddress! + p * plane, plane) * scale }
            }
        }
    }

    /// For N×C×H×W, the mean over channels: shape [N, H·W] (the reduction inside an attention map).
    public func meanOverChannels() -> Tensor {
        let (n, c, h, w) = nchw
        let plane = h * w, scale = 1 / Float(c)
        return withUnsafeBufferPointer { x in
            Tensor(shape: [n, plane]) { y in
                y.update(repeating: 0)
                for i in 0..<n {
                    let dst = y.baseAddress! + i * plane
                    for ch in 0..<c {
                        let src = x.baseAddress! + (i * c + ch) * plane
                        for j in 0..<plane { dst[j] += src[j] }
                    }
                    for j in 0..<plane { dst[j] *= scale }
                }
            }
        }
    }

    /// Index of the largest element of each row of an N×D matrix.
    public func argmaxPerRow() -> [Int] {
        precondition(rank == 2, "argmaxPerRow needs a matrix, got \(shape)")
        let d = shape[1]
        return withUnsafeBufferPointer { x in
            (0..<shape[0]).map { i in
                var best = 0
                for j in 1..<Swift.max(d, 1) where x[i * d + j] > x[i * d + best] { best = j }
                return best
            }
        }
    }
}
