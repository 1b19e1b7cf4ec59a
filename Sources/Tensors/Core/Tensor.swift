import Foundation

/// A Float32 tensor: a shape and contiguous storage, row-major (NCHW for images) unless the oneDNN
/// backend made it channel-blocked (`layout`, see `TensorLayout`), with value semantics.
///
/// Copies share storage until one of them is mutated (copy on write), so passing tensors around is
/// cheap. Hot loops use `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer` (which always
/// see row-major elements, converting a blocked tensor), never subscripts; kernels that work on
/// either layout use `withUnsafeStorage`.
///
///     var t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
///     t[1, 2]  // 6
public struct Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage
    /// The order of the elements in `storage`; `.plain` for every tensor not made by the oneDNN backend.
    public private(set) var layout: TensorLayout = .plain

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

    /// A tensor stored in `layout` whose elements (in that order) the caller writes through `body`.
    public init(shape: [Int], layout: TensorLayout, uninitialized body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        precondition(layout.admits(shape), "a tensor of shape \(shape) cannot be stored \(layout)")
        try self.init(shape: shape, uninitialized: body)
        self.layout = layout
    }

    init(storage: TensorStorage, shape: [Int], layout: TensorLayout) {
        self.storage = storage
        self.shape = shape
        self.layout = layout
    }

    init(plainStorage: TensorStorage, shape: [Int]) { self.init(storage: plainStorage, shape: shape, layout: .plain) }

    public static func elementCount(_ shape: [Int]) -> Int {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        return shape.reduce(1, *)
    }

    /// The same elements viewed with another shape of equal element count (no copy).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "cannot reshape \(shape) to \(newShape)")
        if newShape == shape { return self }
        var t = converted(to: .plain)
        t.shape = newShape
        return t
    }

    public var scalars: [Float] { withUnsafeBufferPointer { Array($0) } }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with shape \(shape)")
        return withUnsafeBufferPointer { $0[0] }
    }

    /// The elements in row-major order (a blocked tensor is converted; the copy is kept with its storage).
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let plain = layout == .plain ? storage : storage.plainCopy(shape: shape)
        return try body(UnsafeBufferPointer(start: plain.pointer, count: plain.count))
    }

    /// The elements in row-major order, for writing: a blocked tensor becomes plain first.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if layout != .plain { self = converted(to: .plain) }
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The elements in storage order, whatever the layout: for kernels that handle both layouts
    /// (elementwise maps, which never mix the orders of two tensors, and the oneDNN backend).
    @inlinable
    public func withUnsafeStorage<R>(_ body: (UnsafeBufferPointer<Float>, TensorLayout) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count), layout)
    }

    /// The elements in storage order, for writing in place.
    @inlinable
    public mutating func withUnsafeMutableStorage<R>(_ body: (UnsafeMutableBufferPointer<Float>, TensorLayout) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() } else { storage.invalidatePlainCopy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count), layout)
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
        get { withUnsafeBufferPointer { $0[offset(index)] } }
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
