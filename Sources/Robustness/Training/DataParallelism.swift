import Cluster

/// How the ranks of a data-parallel training run work together (`Trainer.parallelism`).
///
/// `synchronizedBatchNorm` is the default: with it N ranks compute the batch-norm statistics of the
/// whole global batch, as one process does, so the trained model does not depend on N beyond the
/// order of floating-point sums, and the file's batch size keeps its meaning for batch norm too
/// (128 images over 32 ranks would otherwise normalise by 4 images each). It costs three small
/// all-reductions (2–3 × C doubles) per batch-norm layer and training-mode pass. Local batch norm
/// (`false`) skips them and averages the running statistics over ranks after each step.
public struct DataParallelism: Sendable {
    public var communicator: Communicator
    public var synchronizedBatchNorm: Bool

    public init(communicator: Communicator = .single, synchronizedBatchNorm: Bool = true) {
        self.communicator = communicator
        self.synchronizedBatchNorm = synchronizedBatchNorm
    }
}
