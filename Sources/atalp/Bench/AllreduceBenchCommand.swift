import ArgumentParser
import Cluster
import Foundation

/// `atalp bench-allreduce`: the cost of MPI_Allreduce (sum of float32, in place) across the ranks of
/// this job, per message size, and the fit t(bytes) = latency + bytes · seconds-per-byte (least
/// squares over the sizes) — the two numbers the cluster projection in docs/cluster.md uses. Run it
/// under `mpirun -np N`; on one process there is nothing to measure.
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
        if world.isLeader { print("ranks \(world.size); MPI_Allreduce(sum, float32, in place), median of \(repeats)") }
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
            // The slowest rank's time is the collective's.
            let median = world.allreduceMax(times.sorted()[times.count / 2])
            points.append((Double(4 * n), median))
            if world.isLeader {
                print(String(format: "%12d bytes  %10.1f µs  %8.3f GB/s", 4 * n, median * 1e6, Double(4 * n) / median / 1e9))
            }
        }
        let count = Double(points.count)
        let mx = points.map(\.bytes).reduce(0, +) / count, my = points.map(\.seconds).reduce(0, +) / count
        let slope = points.map { ($0.bytes - mx) * ($0.seconds - my) }.reduce(0, +) / points.map { ($0.bytes - mx) * ($0.bytes - mx) }.reduce(0, +)
        if world.isLeader {
            print(String(format: "fit: latency %.1f µs + %.3g s/byte (%.2f GB/s)", (my - slope * mx) * 1e6, slope, 1 / slope / 1e9))
        }
    }
}
