import Cluster
import Tensors

/// Batch normalisation of an N×C×H×W tensor with learnable γ, β (formulas in CPUBackend+BatchNorm),
/// optionally followed by a fused ReLU. Returns the output and the forward statistics (the layer
/// updates running statistics from `unbiasedVariance` in training mode).
public func batchNorm(_ x: Variable, gamma: Variable, beta: Variable, mode: BatchNormMode, epsilon: Float = 1e-5,
                      relu: Bool = false) -> (output: Variable, statistics: BatchNormForwardResult) {
    // Inside a data-parallel step with synchronised batch norm, batch statistics span every rank.
    if case .batchStatistics = mode, let communicator = BatchNormSynchronization.communicator, communicator.isDistributed {
        return synchronizedBatchNorm(x, gamma: gamma, beta: beta, epsilon: epsilon, relu: relu, communicator: communicator)
    }
    var saved = Profiler.measure("batch norm forward") {
        Tensor.backend.batchNormForward(x.value, gamma: gamma.value, beta: beta.value, mode: mode, epsilon: epsilon, relu: relu)
    }
    let y = saved.output
    saved.output = Tensor(shape: [0])  // the pullback needs the statistics, not a second copy of y
    let out = x.recordingTape.record(y, inputs: [x, gamma, beta]) { [saved, beta = beta.slot] dy in
        let needAffine = gamma.requiresGradient || beta.requiresGradient
        let (dx, dg, db) = Profiler.measure("batch norm backward") {
            Tensor.backend.batchNormBackward(gradOutput: dy, input: x.value, gamma: gamma.value, saved: saved,
                                             reluOutput: relu ? y : nil,
                                             needInput: x.requiresGradient, needAffine: needAffine)
        }
        if let dx { x.accumulateGradient(dx) }
        if let dg { gamma.accumulateGradient(dg) }
        if let db { beta.accumulateGradient(db) }
    }
    saved.output = y
    return (out, saved)
}
