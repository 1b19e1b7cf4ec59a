import Foundation

/// Data parallelism over the cores: split `0..<count` into one contiguous chunk per worker.
///
/// Kernels parallelise over batch tiles themselves and call OpenBLAS single-threaded inside each tile
/// (nested thread pools are many times slower, and a cache-sized slice per core beats one
/// multi-threaded product over the whole batch on small layers).
public enum Parallel {
    /// Workers used by kernels; defaults to the active cores, or `ATALP_THREADS` when set.
    public static let threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["ATALP_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Calls `body(chunkIndex, range)` for up to `threadCount` contiguous chunks of `0..<count`,
    /// concurrently. Chunks are never empty; `minimumChunk` keeps tiny loops on one thread.
    public static func forEachChunk(_ count: Int, minimumChunk: Int = 1, _ body: @Sendable (Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, max(1, count / max(1, minimumChunk)))
        if chunks == 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(c, lo..<hi) }
        }
    }

    /// How many chunks `forEachChunk` will use for this count (to size per-chunk accumulators).
    public static func chunkCount(_ count: Int, minimumChunk: Int = 1) -> Int {
        count <= 0 ? 0 : min(threadCount, max(1, count / max(1, minimumChunk)))
    }
}

/// A raw pointer that may cross into `@Sendable` parallel closures. Each worker writes a disjoint
/// region; that discipline, not the type system, keeps it race-free.
public struct SendablePointer<T>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<T>
    public init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    public init(_ buffer: UnsafeMutableBufferPointer<T>) { base = buffer.baseAddress! }
    public init(_ buffer: UnsafeBufferPointer<T>) { base = UnsafeMutablePointer(mutating: buffer.baseAddress!) }
    @inlinable public subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
    @inlinable public func advanced(by n: Int) -> UnsafeMutablePointer<T> { base + n }
}
