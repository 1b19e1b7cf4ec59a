import XCTest
@testable import Autodiff
import Cluster
import Tensors

/// Synchronised batch norm on one process is plain batch norm: the same output, running statistics
/// and gradients (input, γ, β), with and without the fused ReLU. (Its behaviour across ranks is
/// tested under mpirun by PipelineTests' MPITests.)
final class SynchronizedBatchNormTests: XCTestCase {
    func testOneProcessIsPlainBatchNorm() {
        var rng = SeededRandom(seed: 9)
        let x = Tensor.uniform(shape: [3, 4, 5, 6], in: -2...3, using: &rng)
        let g = Tensor.uniform(shape: [4], in: 0.5...1.5, using: &rng), b = Tensor.uniform(shape: [4], in: -1...1, using: &rng)
        let upstream = Tensor.uniform(shape: [3, 4, 5, 6], in: -1...1, using: &rng)
        for relu in [false, true] {
            func run(_ synchronized: Bool) -> (y: Tensor, variance: Tensor, dx: Tensor, dg: Tensor, db: Tensor) {
                let tape = Tape()
                let xv = tape.input(x, requiresGradient: true), gv = tape.input(g, requiresGradient: true), bv = tape.input(b, requiresGradient: true)
                let (y, stats) = synchronized
                    ? synchronizedBatchNorm(xv, gamma: gv, beta: bv, relu: relu, communicator: .single)
                    : batchNorm(xv, gamma: gv, beta: bv, mode: .batchStatistics, relu: relu)
                tape.backward(from: y, seed: upstream)
                return (y.value, stats.unbiasedVariance!, xv.gradient!, gv.gradient!, bv.gradient!)
            }
            let (plain, synced) = (run(false), run(true))
            for (name, a, s) in [("output", plain.y, synced.y), ("running variance", plain.variance, synced.variance),
                                 ("dx", plain.dx, synced.dx), ("dγ", plain.dg, synced.dg), ("dβ", plain.db, synced.db)] {
                XCTAssertEqual(a.shape, s.shape)
                let worst = zip(a.scalars, s.scalars).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-6, "\(name) (relu: \(relu))")   // measured: ≤ 2.4e-7 (float rounding of 1/σ)
            }
        }
    }

    func testNoCommunicatorMeansPlainBatchNorm() {
        XCTAssertNil(BatchNormSynchronization.communicator)
        XCTAssertFalse(Communicator.single.isDistributed)
        XCTAssertEqual(Communicator.single.allreduceSum([1.5, -2]), [1.5, -2])
    }
}
