import Autodiff
import Tensors

/// Something that updates parameters from their accumulated gradients, and whose state a checkpoint
/// keeps so that a resumed run continues exactly where it stopped.
public protocol Optimizer: AnyObject {
    /// Applies one update with learning rate `learningRate` to every parameter that has a gradient,
    /// then clears the gradients.
    func step(learningRate: Float)
    /// Per-parameter state, named `<parameter name>.<state>` (e.g. `fc.weight.momentum_buffer`).
    var state: [String: Tensor] { get }
    func loadState(_ state: [String: Tensor]) throws
}

public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
}
