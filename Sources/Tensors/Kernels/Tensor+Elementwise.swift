import Foundation

/// Elementwise arithmetic on tensors of equal shape, with scalars, and a few broadcasts that networks
/// need (per-channel affine maps, a row vector added to every row). Memory-bound loops the compiler
/// vectorises; no general broadcasting, so shape mistakes fail loudly. Maps of every element keep the
/// tensor's layout (`TensorLayout`); those that index by position read row-major elements.
extension Tensor {
    /// A new tensor with `f` applied to every element, in this tensor's layout (elementwise maps never
    /// need row-major order).
    @inlinable
    public func map(_ f: (Float) -> Float) -> Tensor {
        withUnsafeStorage { src, layout in
            Tensor(shape: shape, layout: layout) { dst in for i in 0..<src.count { dst[i] = f(src[i]) } }
        }
    }

    /// A new tensor with `f(a[i], b[i])` for two tensors of the same shape, in `self`'s layout (`other`
    /// is converted if its layout differs).
    @inlinable
    public func zipMap(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "shapes differ: \(shape) and \(other.shape)")
        return withUnsafeStorage { a, layout in other.converted(to: layout).withUnsafeStorage { b, _ in
            Tensor(shape: shape, layout: layout) { dst in for i in 0..<a.count { dst[i] = f(a[i], b[i]) } }
        } }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, +) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, -) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, *) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, /) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    public static func * (s: Float, a: Tensor) -> Tensor { a.map { $0 * s } }
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    public static func - (a: Tensor, s: Float) -> Tensor { a.map { $0 - s } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    /// a += b in place (the accumulation every backward pass does), in a's layout; copies only if
    /// storage is shared.
    public static func += (a: inout Tensor, b: Tensor) {
        precondition(a.shape == b.shape, "shapes differ: \(a.shape) and \(b.shape)")
        b.converted(to: a.layout).withUnsafeStorage { src, _ in
            a.withUnsafeMutableStorage { dst, _ in
                let s = SendablePointer(src), d = SendablePointer(dst)
                Tensor.forEachSlice(dst.count) { range in for i in range { d[i] += s[i] } }
            }
        }
    }

    /// a += s·b in place, in a's layout.
    public mutating func addScaled(_ b: Tensor, _ s: Float) {
        precondition(shape == b.shape, "shapes differ: \(shape) and \(b.shape)")
        b.converted(to: layout).withUnsafeStorage { src, _ in
            withUnsafeMutableStorage { dst, _ in
                let x = SendablePointer(src), d = SendablePointer(dst)
                Tensor.forEachSlice(dst.count) { range in for i in range { d[i] += s * x[i] } }
            }
        }
    }

    /// Elements per slice below which an elementwise pass stays on the calling thread: 256 KiB, where
    /// waking a second worker (microseconds) costs about what it saves.
    static let sliceElements = 1 << 16

    /// Calls `body` on contiguous slices of `0..<count` (multiples of 16 elements, a 64-byte line, so
    /// two workers never write one cache line), on the worker pool when the pass is large. The
    /// ops of a network step are memory-bound passes over activations of megabytes; one core alone
    /// does not saturate the memory bandwidth.
    static func forEachSlice(_ count: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let lines = (count + 15) / 16
        Parallel.forEachChunk(lines, minimumChunk: sliceElements / 16) { _, range in
            body(range.lowerBound * 16..<Swift.min(range.upperBound * 16, count))
        }
    }

    public func clamped(to range: ClosedRange<Float>) -> Tensor {
        let lo = range.lowerBound, hi = range.upperBound
        return map { Swift.min(Swift.max($0, lo), hi) }
    }

    /// −1, 0 or +1 per element (the sign of a gradient, as FGSM and PGD use it).
    public func sign() -> Tensor { map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) } }

    /// y[n, c, …] = x[n, c, …]·scale[c] + shift[c] over the channel axis (axis 1) of a tensor of rank ≥ 2.
    public func channelAffine(scale: Tensor, shift: Tensor) -> Tensor {
        precondition(rank >= 2 && scale.count == shape[1] && shift.count == shape[1],
                     "channel affine of \(scale.count) channels on shape \(shape)")
        let c = shape[1], inner = count / (shape[0] * c)
        return withUnsafeBufferPointer { x in scale.withUnsafeBufferPointer { s in shift.withUnsafeBufferPointer { t in
            Tensor(shape: shape) { y in
                for p in 0..<(shape[0] * c) {
                    let ch = p % c, a = s[ch], b = t[ch]
                    let o = p * inner
                    for j in 0..<inner { y[o + j] = x[o + j] * a + b }
                }
            }
        } } }
    }

    /// Adds a row vector (length D) to every row of an N×D matrix.
    public func addingRow(_ row: Tensor) -> Tensor {
        precondition(rank == 2 && row.count == shape[1], "cannot add a row of \(row.count) to shape \(shape)")
        let d = shape[1]
        return withUnsafeBufferPointer { x in row.withUnsafeBufferPointer { r in
            Tensor(shape: shape) { y in
                for i in 0..<shape[0] { for j in 0..<d { y[i * d + j] = x[i * d + j] + r[j] } }
            }
        } }
    }

    /// Multiplies every row i of an N×… tensor by s[i].
    public func scalingRows(by s: Tensor) -> Tensor {
        precondition(s.count == shape[0], "cannot scale \(shape[0]) rows by \(s.count) values")
        let inner = count / Swift.max(shape[0], 1)
        return withUnsafeBufferPointer { x in s.withUnsafeBufferPointer { sb in
            Tensor(shape: shape) { y in
                for i in 0..<shape[0] { let f = sb[i]; for j in 0..<inner { y[i * inner + j] = x[i * inner + j] * f } }
            }
        } }
    }

    /// Rows `range` of the first axis (e.g. a slice of a batch).
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of shape \(shape)")
        let inner = count / Swift.max(shape[0], 1)
        var newShape = shape
        newShape[0] = range.count
        return withUnsafeBufferPointer { x in
            Tensor(shape: newShape) { y in
                if y.count > 0 { y.baseAddress!.update(from: x.baseAddress! + range.lowerBound * inner, count: y.count) }
            }
        }
    }

    /// Rows picked by index along the first axis (a mini-batch from a data set).
    public func gatherRows(_ indices: [Int]) -> Tensor {
        let inner = count / Swift.max(shape[0], 1)
        var newShape = shape
        newShape[0] = indices.count
        return withUnsafeBufferPointer { x in
            Tensor(shape: newShape) { y in
                for (r, i) in indices.enumerated() {
                    precondition(i >= 0 && i < shape[0], "row \(i) out of range for shape \(shape)")
                    (y.baseAddress! + r * inner).update(from: x.baseAddress! + i * inner, count: inner)
                }
            }
        }
    }

    /// Tensors of equal trailing shape stacked along the first axis.
    public static func concatenatingRows(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "nothing to concatenate")
        let tail = Array(parts[0].shape.dropFirst())
        precondition(parts.allSatisfy { Array($0.shape.dropFirst()) == tail }, "cannot concatenate shapes \(parts.map(\.shape))")
        let total = parts.reduce(0) { $0 + $1.shape[0] }
        return Tensor(shape: [total] + tail) { y in
            var o = 0
            for p in parts {
                p.withUnsafeBufferPointer { x in if x.count > 0 { (y.baseAddress! + o).update(from: x.baseAddress!, count: x.count) } }
                o += p.count
            }
        }
    }

    /// max(self + other, 0), in SIMD8 (a residual connection and its ReLU in one pass).
    public func addingReLU(_ other: Tensor) -> Tensor {
        precondition(shape == other.shape, "shapes differ: \(shape) and \(other.shape)")
        return withUnsafeStorage { a, layout in other.converted(to: layout).withUnsafeStorage { b, _ in
            Tensor(shape: shape, layout: layout) { out in
                Tensor.zipSIMD8(a, b, into: out) { a, b in let s = a + b; return s.replacing(with: 0, where: s .< 0) }
            }
        } }
    }

    /// self where `mask` > 0, else 0: the gradient through a ReLU whose output was `mask`.
    public func maskedWhereNotPositive(_ mask: Tensor) -> Tensor {
        precondition(shape == mask.shape, "shapes differ: \(shape) and \(mask.shape)")
        return mask.withUnsafeStorage { m, layout in converted(to: layout).withUnsafeStorage { g, _ in
            Tensor(shape: shape, layout: layout) { out in
                Tensor.zipSIMD8(g, m, into: out) { g, m in g.replacing(with: 0, where: m .<= 0) }
            }
        } }
    }

    /// out[i] = f(a[i], b[i]), eight elements at a time (the compiler leaves such masked loops scalar),
    /// on the worker pool for large passes (`forEachSlice`).
    @inline(__always)
    static func zipSIMD8(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>,
                         _ f: @escaping @Sendable (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) {
        let a = SendablePointer(a), b = SendablePointer(b), o = SendablePointer(out)
        forEachSlice(out.count) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let v = f(UnsafeRawPointer(a.base + i).loadUnaligned(as: SIMD8<Float>.self),
                          UnsafeRawPointer(b.base + i).loadUnaligned(as: SIMD8<Float>.self))
                UnsafeMutableRawPointer(o.base + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
            while i < range.upperBound { o[i] = f(SIMD8(repeating: a[i]), SIMD8(repeating: b[i]))[0]; i += 1 }
        }
    }
}
