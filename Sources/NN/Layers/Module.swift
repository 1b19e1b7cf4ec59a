import Autodiff
import Tensors

/// Whether a forward pass trains (batch statistics, running statistics updated) or evaluates.
public enum Mode: Sendable {
    case training, evaluation
}

/// Non-trainable state of a layer that a checkpoint must keep (batch norm's running statistics).
public final class Buffer {
    /// PyTorch's name for it, e.g. `bn1.running_mean`.
    public let name: String
    public var value: Tensor
    public init(_ value: Tensor, name: String) {
        self.value = value
        self.name = name
    }
}

/// A layer or a network: something with parameters and buffers, named as PyTorch names them.
///
/// Layers are built with their full dotted name (`layer1.0.conv1`), so a model's state is just the
/// list of its parameters and buffers, in a stable order.
public protocol Module: AnyObject {
    var parameters: [Parameter] { get }
    var buffers: [Buffer] { get }
}

extension Module {
    public var buffers: [Buffer] { [] }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    public func zeroGradients() { for p in parameters { p.zeroGradient() } }
}

/// The dotted PyTorch name of a child: `join("layer1.0", "conv1")` is `layer1.0.conv1`.
func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }
