import CDNNL
import Foundation

/// Data parallelism over the cores: split `0..<count` into one contiguous chunk per worker.
///
/// Kernels parallelise over batch tiles themselves and call OpenBLAS single-threaded inside each tile
/// (nested thread pools are many times slower, and a cache-sized slice per core beats one
/// multi-threaded product over the whole batch on small layers).
///
/// One pool of workers per process: with the oneDNN backend the chunks run on OpenMP's team, the one
/// oneDNN's primitives use, instead of on Dispatch's threads. Two pools would oversubscribe the cores:
/// after each primitive libgomp's workers keep spinning (up to 300 000 spins by default, `GOMP_SPINCOUNT`)
/// while Dispatch's workers start batch norm beside them. Ops are issued one at a time, so the
/// two kinds of loops never overlap. OpenBLAS runs single-threaded inside (`CPUBackend.init`).
public enum Parallel {
    /// Workers used by kernels: `ATALP_THREADS` when set, else the active cores divided by the MPI
    /// ranks on this node (the launcher's `OMPI_COMM_WORLD_LOCAL_SIZE`, `MPI_LOCALNRANKS` or
    /// `SLURM_NTASKS_PER_NODE`; see Cluster's `MPIRuntime`), so that N ranks on one machine do not
    /// oversubscribe its cores. Without a launcher: every active core.
    public static let threadCount: Int = {
        let environment = ProcessInfo.processInfo.environment
        if let s = environment["ATALP_THREADS"], let n = Int(s), n > 0 { return n }
        let launched = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains { environment[$0] != nil } && environment["ATALP_MPI"] != "0"
        let local = launched ? ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"]
            .lazy.compactMap { environment[$0].flatMap { Int($0) } }.first { $0 > 0 } ?? 1 : 1
        return max(1, ProcessInfo.processInfo.activeProcessorCount / local)
    }()

    /// Whose threads run the chunks.
    public enum Pool: String, Sendable {
        /// `DispatchQueue.concurrentPerform` (Grand Central Dispatch's worker threads).
        case dispatch
        /// libgomp's team (`GOMP_parallel`), shared with oneDNN.
        case openmp
    }

    /// `ATALP_POOL` when set (for measurements), else OpenMP with the oneDNN backend and Dispatch
    /// with the reference one.
    public static let pool: Pool = {
        if let s = ProcessInfo.processInfo.environment["ATALP_POOL"], let p = Pool(rawValue: s) { return p }
        return BackendKind.current == .onednn ? .openmp : .dispatch
    }()

    /// Calls `body(chunkIndex, range)` for up to `threadCount` contiguous chunks of `0..<count`,
    /// concurrently. Chunks are never empty; `minimumChunk` keeps tiny loops on one thread.
    public static func forEachChunk(_ count: Int, minimumChunk: Int = 1, _ body: @Sendable (Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, max(1, count / max(1, minimumChunk)))
        if chunks == 1 { body(0, 0..<count); return }
        let run: @Sendable (Int) -> Void = { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(c, lo..<hi) }
        }
        switch pool {
        case .dispatch: DispatchQueue.concurrentPerform(iterations: chunks, execute: run)
        case .openmp: openMPPerform(iterations: chunks, run)
        }
    }

    /// How many chunks `forEachChunk` will use for this count (to size per-chunk accumulators).
    public static func chunkCount(_ count: Int, minimumChunk: Int = 1) -> Int {
        count <= 0 ? 0 : min(threadCount, max(1, count / max(1, minimumChunk)))
    }

    /// `concurrentPerform` on OpenMP's team: thread t of T runs iterations t, t+T, … (the team may be
    /// smaller than asked for, e.g. inside another parallel region, so every iteration still runs once).
    static func openMPPerform(iterations: Int, _ body: @Sendable (Int) -> Void) {
        struct Work {
            let iterations: Int
            let body: @Sendable (Int) -> Void
        }
        withoutActuallyEscaping(body) { body in
            var work = Work(iterations: iterations, body: body)
            withUnsafeMutablePointer(to: &work) { pointer in
                GOMP_parallel({ raw in
                    let work = raw!.assumingMemoryBound(to: Work.self).pointee
                    let team = Int(omp_get_num_threads())
                    var i = Int(omp_get_thread_num())
                    while i < work.iterations {
                        work.body(i)
                        i += team
                    }
                }, pointer, UInt32(iterations), 0)
            }
        }
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
