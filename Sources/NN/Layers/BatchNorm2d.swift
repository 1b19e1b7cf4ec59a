import Autodiff
import Tensors

/// Batch normalisation over channels with running statistics, as PyTorch's `BatchNorm2d`:
/// training normalises with the batch's statistics and updates
/// running = (1 − momentum)·running + momentum·batch (unbiased variance); evaluation uses the running ones.
public final class BatchNorm2d: Module {
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Buffer
    public let runningVar: Buffer
    public let batchesTracked: Buffer
    public let momentum: Float
    public let epsilon: Float
    /// The convolution before it with this layer folded in, for evaluation (`folding`).
    let fold = FoldedConvolutionCache()

    public init(name: String, channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        weight = Parameter(Tensor(shape: [channels], repeating: 1), name: join(name, "weight"))
        bias = Parameter(Tensor(shape: [channels]), name: join(name, "bias"))
        runningMean = Buffer(Tensor(shape: [channels]), name: join(name, "running_mean"))
        runningVar = Buffer(Tensor(shape: [channels], repeating: 1), name: join(name, "running_var"))
        batchesTracked = Buffer(Tensor(scalar: 0), name: join(name, "num_batches_tracked"))
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var buffers: [Buffer] { [runningMean, runningVar, batchesTracked] }

    /// With `relu`, the ReLU that follows is fused into the same pass.
    public func callAsFunction(_ x: Variable, mode: Mode, relu: Bool = false) -> Variable {
        let tape = x.recordingTape
        let statsMode: BatchNormMode = mode == .training
            ? .batchStatistics : .fixed(mean: runningMean.value, variance: runningVar.value)
        let (y, stats) = batchNorm(x, gamma: tape.variable(for: weight), beta: tape.variable(for: bias),
                                   mode: statsMode, epsilon: epsilon, relu: relu)
        if mode == .training, let variance = stats.unbiasedVariance {
            runningMean.value = runningMean.value * (1 - momentum) + stats.mean * momentum
            runningVar.value = runningVar.value * (1 - momentum) + variance * momentum
            batchesTracked.value = Tensor(scalar: batchesTracked.value.scalar + 1)
        }
        return y
    }
}
