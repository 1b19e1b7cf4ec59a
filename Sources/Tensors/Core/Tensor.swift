import Foundation

/// A Float32 tensor: a shape and contiguous row-major storage (NCHW for images), with value semantics.
///
/// Copies share storage until one of them is mutated (copy on write), so passing tensors around is
/// cheap. Hot loops use `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer`, never subscripts.
///
///     var t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
///     t[1, 2]  // 6
public struct Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// Number of elements.
    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    public init(shape: [Int], repeating value: Float = 0) {
        self.shape = shape
        storage = TensorStorage(repeating: value, count: Tensor.elementCount(shape))
    }

    public init(shape: [Int], values: [Float]) {
        precondition(values.count == Tensor.elementCount(shape), "\(values.count) values do not fill shape \(shape)")
        self.shape = shape
        storage = TensorStorage(uninitializedCount: values.count)
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A tensor whose elements the caller writes through `body` before anyone reads them.
    public init(shape: [Int], uninitialized body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        self.shape = shape
        storage = TensorStorage(uninitializedCount: Tensor.elementCount(shape))
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    public init(scalar: Float) { self.init(shape: [], values: [scalar]) }

    public static func elementCount(_ shape: [Int]) -> Int {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        return shape.reduce(1, *)
    }

    /// The same elements viewed with another shape of equal element count (no copy).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }

    public var scalars: [Float] { withUnsafeBufferPointer { Array($0) } }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with shape \(shape)")
        return storage.pointer[0]
    }

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Row-major offset of a multi-index.
    public func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of bounds for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    /// Element access for tests and small work; hot loops use the buffer pointers.
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[offset(index)] }
        set {
            let o = offset(index)
            withUnsafeMutableBufferPointer { $0[o] = newValue }
        }
    }

    /// Whether two tensors share storage (for tests of copy-on-write).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor: Equatable {
    /// Exact equality of shape and every element's value.
    public static func == (a: Tensor, b: Tensor) -> Bool {
        guard a.shape == b.shape else { return false }
        return a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            for i in 0..<pa.count where pa[i] != pb[i] { return false }
            return true
        } }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(preview)\(count > 8 ? ", …" : "")])"
    }
}
