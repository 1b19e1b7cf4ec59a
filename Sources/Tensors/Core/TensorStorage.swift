import Foundation
import Synchronization

/// The heap buffer behind a `Tensor`: one contiguous, 64-byte aligned block of `Float`.
///
/// A class so that tensors share storage until one of them writes (copy on write, see `Tensor`).
public final class TensorStorage: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    /// Unique for the life of the process (never reused, unlike an address), and the number of times
    /// its elements were opened for writing: together they tell a cache whether it has seen exactly
    /// these values (the oneDNN backend's reordered weights).
    public let id: UInt64 = TensorStorage.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    public private(set) var version: UInt64 = 0
    private static let nextID = Atomic<UInt64>(0)

    /// Called by every write access (`Tensor.withUnsafeMutableBufferPointer`, `withUnsafeMutableStorage`).
    @usableFromInline func markWritten() { version &+= 1 }

    /// Uninitialised storage; callers fill every element before reading.
    public init(uninitializedCount count: Int) {
        self.count = count
        let raw = BufferPool.shared.allocate(bytes: max(count, 1) * MemoryLayout<Float>.stride)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    public convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    /// The row-major copy of this storage when it holds a channel-blocked tensor of `shape`, made on
    /// first use and kept: a blocked activation is often read row-major more than once (an attention
    /// map and its backward pass), and blocked storage is never written once shared.
    private var plainCache: TensorStorage?
    /// One lock for every storage's cache: taken only for blocked tensors, and a lock per tensor
    /// would cost an allocation on every op.
    private static let plainCacheLock = NSLock()

    @usableFromInline func plainCopy(shape: [Int]) -> TensorStorage {
        Self.plainCacheLock.lock()
        defer { Self.plainCacheLock.unlock() }
        if let plainCache { return plainCache }
        let plain = TensorStorage(uninitializedCount: count)
        Profiler.measure("layout: blocked → plain") {
            TensorLayout.reorder(from: SendablePointer(pointer), to: SendablePointer(plain.pointer),
                                 n: shape[0], c: shape[1], plane: shape[2] * shape[3], toBlocked: false)
        }
        plainCache = plain
        return plain
    }

    /// Forgets the row-major copy (before the blocked elements change).
    @usableFromInline func invalidatePlainCopy() {
        Self.plainCacheLock.lock()
        plainCache = nil
        Self.plainCacheLock.unlock()
    }

    public func copy() -> TensorStorage {
        let new = TensorStorage(uninitializedCount: count)
        new.pointer.update(from: pointer, count: count)
        return new
    }

    deinit { BufferPool.shared.release(UnsafeMutableRawPointer(pointer), bytes: max(count, 1) * MemoryLayout<Float>.stride) }
}
