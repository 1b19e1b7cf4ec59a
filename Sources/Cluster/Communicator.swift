import CMPI
import Foundation

/// A group of processes that compute one thing together: the MPI ranks of a job (`world`), a group
/// split off it, or this process alone (`single`, no MPI at all).
///
/// Every collective call must be made by every rank of the communicator, in the same order — the
/// MPI rule. Calls are serialised by a lock (MPI is initialised with `MPI_THREAD_SERIALIZED`), and
/// the time spent inside them is added to `communicationSeconds`, so that a step's communication
/// share can be measured. On `single` every collective is the identity and costs nothing.
///
///     let world = Communicator.world          // one process unless started by mpirun/srun
///     gradients.withUnsafeMutableBufferPointer { world.allreduceSum($0) }
public final class Communicator: @unchecked Sendable {
    /// This process's index in the group, 0..<size; rank 0 is the leader (writes, prints).
    public let rank: Int
    /// Processes in the group.
    public let size: Int
    let handle: MPI_Comm?
    private let lock = NSLock()
    private var seconds = 0.0
    private var reducedBytes = 0

    init(rank: Int, size: Int, handle: MPI_Comm?) {
        self.rank = rank; self.size = size; self.handle = handle
    }

    /// This process alone: collectives are the identity.
    public static let single = Communicator(rank: 0, size: 1, handle: nil)

    /// Every rank of the job when this process was started by an MPI launcher (`MPIRuntime.isLaunched`),
    /// else `single`. MPI is initialised on first use, so a process that never asks pays nothing.
    public static var world: Communicator { MPIRuntime.world }

    public var isLeader: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }

    /// Seconds spent in collectives so far (wall clock, waiting for slower ranks included).
    public var communicationSeconds: Double { lock.lock(); defer { lock.unlock() }; return seconds }
    /// Bytes this rank has contributed to all-reductions so far.
    public var allreducedBytes: Int { lock.lock(); defer { lock.unlock() }; return reducedBytes }

    private func timed<T>(_ body: (MPI_Comm) -> T) -> T? {
        guard let handle else { return nil }
        lock.lock(); defer { lock.unlock() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body(handle)
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return result
    }

    private static func check(_ code: Int32, _ what: String) {
        guard code == atalp_mpi_success() else {
            FileHandle.standardError.write(Data("atalp: \(what) failed (MPI error \(code))\n".utf8))
            MPI_Abort(atalp_mpi_comm_world(), 1)
            fatalError("unreachable: MPI_Abort returned")
        }
    }

    /// In place, element-wise: every rank ends with the sum over ranks (the same bytes on every rank).
    /// Large buffers go in pieces of at most 2³⁰ elements (MPI counts are 32-bit).
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        allreduce(buffer, atalp_mpi_float())
    }

    /// In place, element-wise sum over ranks, in double precision.
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        allreduce(buffer, atalp_mpi_double())
    }

    /// The element-wise sum over ranks.
    public func allreduceSum(_ values: [Double]) -> [Double] {
        var v = values
        v.withUnsafeMutableBufferPointer { allreduceSum($0) }
        return v
    }

    /// The maximum over ranks.
    public func allreduceMax(_ value: Double) -> Double {
        var v = value
        _ = timed { comm in Self.check(MPI_Allreduce(atalp_mpi_in_place(), &v, 1, atalp_mpi_double(), atalp_mpi_max(), comm), "MPI_Allreduce") }
        return v
    }

    private func allreduce<T>(_ buffer: UnsafeMutableBufferPointer<T>, _ type: MPI_Datatype) {
        guard buffer.count > 0 else { return }
        _ = timed { comm in
            var offset = 0
            while offset < buffer.count {
                let n = min(buffer.count - offset, 1 << 30)
                Self.check(MPI_Allreduce(atalp_mpi_in_place(), buffer.baseAddress! + offset, Int32(n), type, atalp_mpi_sum(), comm), "MPI_Allreduce")
                offset += n
            }
            reducedBytes += buffer.count * MemoryLayout<T>.stride
        }
    }

    /// `bytes` of rank `root` on every rank (what the others pass is ignored).
    public func broadcast(_ bytes: [UInt8], from root: Int = 0) -> [UInt8] {
        timed { comm in
            var count = UInt64(bytes.count)
            Self.check(MPI_Bcast(&count, 8, atalp_mpi_byte(), Int32(root), comm), "MPI_Bcast")
            var data = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
            data.withUnsafeMutableBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = min(raw.count - offset, 1 << 30)
                    Self.check(MPI_Bcast(raw.baseAddress! + offset, Int32(n), atalp_mpi_byte(), Int32(root), comm), "MPI_Bcast")
                    offset += n
                }
            }
            return data
        } ?? bytes
    }

    /// Every rank's `bytes`, in rank order, on `root`; nil on the other ranks. Sizes may differ and
    /// exceed 2 GiB (sent in pieces, point to point).
    public func gather(_ bytes: [UInt8], to root: Int = 0) -> [[UInt8]]? {
        guard handle != nil else { return [bytes] }
        return timed { comm -> [[UInt8]]? in
            let tag: Int32 = 0x7A7A
            func send(_ data: [UInt8]) {
                var count = UInt64(data.count)
                Self.check(MPI_Send(&count, 8, atalp_mpi_byte(), Int32(root), tag, comm), "MPI_Send")
                data.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = min(raw.count - offset, 1 << 30)
                        Self.check(MPI_Send(raw.baseAddress! + offset, Int32(n), atalp_mpi_byte(), Int32(root), tag, comm), "MPI_Send")
                        offset += n
                    }
                }
            }
            guard rank == root else { send(bytes); return nil }
            var all: [[UInt8]] = []
            for source in 0..<size {
                if source == root { all.append(bytes); continue }
                var count: UInt64 = 0
                Self.check(MPI_Recv(&count, 8, atalp_mpi_byte(), Int32(source), tag, comm, nil), "MPI_Recv")
                var data = [UInt8](repeating: 0, count: Int(count))
                data.withUnsafeMutableBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = min(raw.count - offset, 1 << 30)
                        Self.check(MPI_Recv(raw.baseAddress! + offset, Int32(n), atalp_mpi_byte(), Int32(source), tag, comm, nil), "MPI_Recv")
                        offset += n
                    }
                }
                all.append(data)
            }
            return all
        } ?? nil
    }

    /// Every rank's `bytes`, in rank order, on every rank.
    public func allgather(_ bytes: [UInt8]) -> [[UInt8]] {
        guard isDistributed else { return [bytes] }
        let gathered = gather(bytes, to: 0)
        let flat = broadcast(gathered.map { Payload.encode(chunks: $0) } ?? [])
        return Payload.decode(chunks: flat)
    }

    /// Returns when every rank has called it.
    public func barrier() {
        _ = timed { comm in Self.check(MPI_Barrier(comm), "MPI_Barrier") }
    }

    /// Splits the group: ranks passing the same `color` form one new communicator, ranked by `key`
    /// (then by rank). Every rank must call it.
    public func split(color: Int, key: Int) -> Communicator {
        guard let handle else { return self }
        var new: MPI_Comm? = nil
        lock.lock()
        Self.check(MPI_Comm_split(handle, Int32(color), Int32(key), &new), "MPI_Comm_split")
        lock.unlock()
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(new, &r); MPI_Comm_size(new, &s)
        return Communicator(rank: Int(r), size: Int(s), handle: new)
    }

    /// Ends every process of the job with `code` (after an error on one rank, the others would wait
    /// forever in their next collective). Without MPI: `exit(code)`.
    public func abort(code: Int32) -> Never {
        if handle != nil { MPI_Abort(atalp_mpi_comm_world(), code) }
        exit(code)
    }
}
