import ArgumentParser
import Cluster
import Foundation

/// `atalp bench-allreduce`: the cost of MPI_Allreduce (sum of float32, in place) across the ranks of
/// this job, per message size (median and minimum over repetitions), and the model t(bytes) = latency + bytes · seconds-per-byte: the two
/// numbers the cluster projection (benchmarks/mpi/projection.py, docs/cluster.md) takes. Run it under
/// `mpirun -np N`; on one process there is nothing to measure.
struct AllreduceBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-allreduce",
        abstract: "Time MPI_Allreduce across the ranks of this job (run under mpirun): latency and seconds per byte.")

    @Option(help: "Message sizes in float32 elements.")
    var sizes: [Int] = [256, 4096, 65_536, 272_474, 1_048_576, 4_194_304]
    @Option(help: "Timed repetitions per size (after two untimed ones).")
    var repeats: Int = 20

    func validate() throws {
        guard repeats >= 1, sizes.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--repeats and --sizes must be positive") }
    }

    func run() throws {
        let world = Communicator.world
        guard world.isDistributed else {
            print("bench-allreduce: one process; run it under mpirun -np N (N ≥ 2)")
            return
        }
        var points: [(bytes: Double, seconds: Double)] = []
        if world.isLeader { print("ranks \(world.size); MPI_Allreduce(sum, float32, in place), \(repeats) repetitions") }
        for n in sizes {
            var buffer = [Float](repeating: 1, count: n)
            var times: [Double] = []
            for r in 0..<(repeats + 2) {
                world.barrier()
                let start = DispatchTime.now().uptimeNanoseconds
                buffer.withUnsafeMutableBufferPointer { world.allreduceSum($0) }
                let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if r >= 2 { times.append(t) }
            }
            // The slowest rank's time is the collective's. The minimum is the uncontended cost (on a
            // loaded machine the median includes time slices lost to other processes).
            let sorted = times.sorted()
            let median = world.allreduceMax(sorted[sorted.count / 2]), fastest = world.allreduceMax(sorted[0])
            points.append((Double(4 * n), fastest))
            if world.isLeader {
                print(String(format: "%12d bytes  median %10.1f µs  min %10.1f µs  %8.3f GB/s at the min", 4 * n, median * 1e6, fastest * 1e6,
                             Double(4 * n) / fastest / 1e9))
            }
        }
        // From the minima: latency, the smallest message's time; cost per byte, the median over messages
        // of at least 64 KiB of (time − latency) / bytes (a median, so that one preempted size does not skew it).
        let latency = points.first?.seconds ?? 0
        let perByte = points.filter { $0.bytes >= 65_536 }.map { max($0.seconds - latency, 0) / $0.bytes }.sorted()
        let slope = perByte.isEmpty ? 0 : perByte[perByte.count / 2]
        if world.isLeader {
            print(String(format: "fit: latency %.1f µs + %.3g s/byte (%.2f GB/s)", latency * 1e6, slope, slope > 0 ? 1 / slope / 1e9 : 0))
        }
    }
}
