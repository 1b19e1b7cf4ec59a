import Foundation
import Autodiff
import CBLAS
import NN
import Robustness
import Tensors

/// The engine benchmark's fixed workloads. The contract they share with the PyTorch peer is written
/// at the top of benchmarks/peer_pytorch.py: change both sides together.
enum BenchNetwork: String, CaseIterable {
    case resnet20, resnet18

    var input: [Int] { self == .resnet20 ? [1, 28, 28] : [3, 32, 32] }
    var inputName: String { input.map(String.init).joined(separator: "x") }

    func makeModel(seed: UInt64) -> ResNet {
        var rng = SeededRandom(seed: seed)
        return ResNet(self == .resnet20 ? .resnet20(inputChannels: 1) : .resnet18Small(inputChannels: 3), rng: &rng)
    }
}

enum BenchWorkload: String, CaseIterable {
    case forward, trainStep = "train-step", pgdStep = "pgd-step", patStep = "pat-step", atalpStep = "atalp-step"
}

/// One timed iteration of a workload, ready to run repeatedly on the same batch.
struct BenchCase {
    let network: BenchNetwork
    let workload: BenchWorkload
    let batch: Int
    private let model: ResNet
    private let images: Tensor
    private let labels: [Int]
    private let trainer: Trainer?
    private var rng = SeededRandom(seed: 99)

    static let attack = PGDConfiguration(epsilon: 0.1, stepSize: 0.01, iterations: 10)

    init(network: BenchNetwork, workload: BenchWorkload, batch: Int, seed: UInt64 = 0) {
        self.network = network
        self.workload = workload
        self.batch = batch
        let model = network.makeModel(seed: seed)
        self.model = model
        var data = SeededRandom(seed: seed &+ 1)
        images = Tensor.uniform(shape: [batch] + network.input, using: &data)
        labels = (0..<batch).map { _ in Int(data.next() % 10) }
        let training = TrainingConfiguration(epochs: 1, batchSize: batch, learningRate: 0.1, nesterov: false, weightDecay: 5e-4, seed: seed)
        let defense: Defense? = switch workload {
        case .trainStep: Defense.none
        case .patStep: .adversarial(.pat(attack: Self.attack))
        case .atalpStep: .adversarial(.atalp(alpha: 0.5, beta: 1, attack: Self.attack))
        case .forward, .pgdStep: nil
        }
        trainer = defense.map { Trainer(model: model, configuration: training, defense: $0) }
    }

    mutating func runOnce() {
        switch workload {
        case .forward:
            let tape = Tape()
            _ = model(tape.input(images, requiresGradient: false), mode: .evaluation).logits
        case .pgdStep:
            var one = Self.attack
            one.iterations = 1
            one.randomStart = false
            _ = PGD.perturb(model, images: images, labels: labels, configuration: one, rng: &rng)
        case .trainStep, .patStep, .atalpStep:
            _ = trainer!.trainStep(images: images, labels: labels, learningRate: 0.1, rng: &rng)
        }
    }

    /// Images per second from the median of timed iterations, after warm-up.
    mutating func measure(minimumIterations: Int, minimumSeconds: Double, warmup: Int = 2) -> Double {
        for _ in 0..<warmup { runOnce() }
        var times: [Double] = []
        let start = Date()
        while times.count < minimumIterations || Date().timeIntervalSince(start) < minimumSeconds {
            let t0 = DispatchTime.now().uptimeNanoseconds
            runOnce()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        return Double(batch) / times[times.count / 2]
    }
}

/// Peak resident set size of this process so far, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// The machine's SGEMM rate (GFLOP/s) on large squares, the yardstick for the convolutions:
/// OpenBLAS with all its threads on one 2048² product, and one single-threaded product per core at
/// once (how the convolution kernels use it); the better of the two.
func machineSgemmRate(size n: Int = 2048) -> (threaded: Double, perCore: Double) {
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    func seconds(_ body: () -> Void) -> Double {
        body()  // warm-up
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return best
    }
    let flops = 2 * Double(n) * Double(n) * Double(n)
    var c = [Float](repeating: 0, count: n * n)
    openblas_set_num_threads(Int32(Parallel.threadCount))
    let threaded = seconds {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
    }
    openblas_set_num_threads(1)
    let workers = Parallel.threadCount
    let outputs = UnsafeMutablePointer<Float>.allocate(capacity: workers * n * n)
    defer { outputs.deallocate() }
    let out = SendablePointer(outputs)
    let perCore = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
        let ap = SendablePointer(pa), bp = SendablePointer(pb)
        return seconds {
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, ap.base, Int32(n),
                            bp.base, Int32(n), 0, out.base + w * n * n, Int32(n))
            }
        }
    } }
    return (flops / threaded / 1e9, Double(workers) * flops / perCore / 1e9)
}
