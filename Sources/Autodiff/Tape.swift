import Tensors

/// A reverse-mode tape (micrograd's idea, over whole-tensor ops).
///
/// Every op whose inputs need a gradient records its output's `GradientSlot` and a pullback: a
/// closure that receives the output's gradient and *accumulates* into its inputs' slots (so fan-in
/// needs no special case). `backward(from:)` walks the records in reverse.
///
/// The tape keeps slots, never values: a value lives only as long as the caller or a pullback that
/// needs it holds it (PyTorch's `save_for_backward`). A pullback that needs only an input's slot says
/// so in its capture list, `{ [x = x.slot] dy in x.accumulateGradient(dy) }`, so that a batch norm's
/// output feeding a residual add is freed after the forward pass, and every saved value is freed as
/// soon as the backward walk has passed the ops that need it. Ops whose inputs need no gradient record
/// nothing, which is how an attack pays for input gradients only: parameters enter its tape as
/// constants, so no weight gradient is ever computed or stored.
///
///     let tape = Tape()
///     let x = tape.input(image, requiresGradient: true)
///     let loss = softmaxCrossEntropy(model(x), labels: y)
///     tape.backward(from: loss)
///     x.gradient   // ∂loss/∂x
public final class Tape {
    /// Whether parameters enter this tape as leaves that receive gradients (training) or as constants
    /// (attacks, evaluation).
    public let recordsParameterGradients: Bool

    private var nodes: [GradientSlot] = []
    private var pullbacks: [((Tensor) -> Void)?] = []
    private var parameterLeaves: [ObjectIdentifier: (parameter: Parameter, leaf: Variable)] = [:]

    public init(recordsParameterGradients: Bool = false) {
        self.recordsParameterGradients = recordsParameterGradients
    }

    /// A value that never receives a gradient.
    public func constant(_ value: Tensor) -> Variable {
        Variable(value: value, requiresGradient: false, tape: self)
    }

    /// A leaf input; with `requiresGradient`, `backward` leaves ∂loss/∂input in its `gradient`.
    public func input(_ value: Tensor, requiresGradient: Bool) -> Variable {
        let v = Variable(value: value, requiresGradient: requiresGradient, tape: self)
        if requiresGradient { append(v, pullback: nil) }
        return v
    }

    /// The leaf for a parameter: one per parameter and tape, so two forward passes through the same
    /// layer (clean and adversarial) accumulate into one gradient.
    public func variable(for parameter: Parameter) -> Variable {
        guard recordsParameterGradients else { return constant(parameter.value) }
        if let entry = parameterLeaves[ObjectIdentifier(parameter)] { return entry.leaf }
        let v = input(parameter.value, requiresGradient: true)
        parameterLeaves[ObjectIdentifier(parameter)] = (parameter, v)
        return v
    }

    /// Records an op: `value` computed from `inputs`; `pullback` maps the output's gradient onto the
    /// inputs that need one. Returns a constant (and drops the pullback) when no input needs a gradient.
    public func record(_ value: Tensor, inputs: [Variable], pullback: @escaping (Tensor) -> Void) -> Variable {
        guard inputs.contains(where: \.requiresGradient) else { return constant(value) }
        let v = Variable(value: value, requiresGradient: true, tape: self)
        append(v, pullback: pullback)
        return v
    }

    private func append(_ v: Variable, pullback: ((Tensor) -> Void)?) {
        v.slot.index = nodes.count
        nodes.append(v.slot)
        pullbacks.append(pullback)
    }

    /// Propagates ∂output/∂· back through the tape, `seed` being ∂loss/∂output (1 for a scalar loss).
    /// Leaves keep their gradients; intermediate gradients and saved values are freed as the walk
    /// passes them. A tape can be walked once.
    public func backward(from output: Variable, seed: Tensor? = nil) {
        guard output.requiresGradient else { return }
        precondition(seed != nil || output.value.count == 1, "backward from a non-scalar \(output.value.shape) needs a seed gradient")
        output.accumulateGradient(seed ?? Tensor(shape: output.value.shape, repeating: 1))
        for i in stride(from: output.slot.index, through: 0, by: -1) {
            guard let pullback = pullbacks[i] else { continue }
            pullbacks[i] = nil
            guard let g = nodes[i].gradient else { continue }
            nodes[i].gradient = nil
            pullback(g)
        }
        // Parameters collect their gradients, ready for the optimiser.
        for (parameter, leaf) in parameterLeaves.values {
            if let g = leaf.gradient { parameter.accumulateGradient(g) }
        }
    }
}

/// A tensor on a tape: its value and, after `Tape.backward`, its gradient if it asked for one.
public final class Variable {
    public let value: Tensor
    /// Where this variable's gradient accumulates; all a pullback needs of an input whose value it
    /// does not use.
    public let slot: GradientSlot
    weak var tape: Tape?

    init(value: Tensor, requiresGradient: Bool, tape: Tape) {
        self.value = value
        self.slot = GradientSlot(shape: value.shape, requiresGradient: requiresGradient)
        self.tape = tape
    }

    public var shape: [Int] { value.shape }
    public var requiresGradient: Bool { slot.requiresGradient }
    /// ∂loss/∂value after a backward pass (leaves only; intermediate gradients are freed).
    public var gradient: Tensor? { slot.gradient }

    /// Adds to this variable's gradient; ignored when it needs none.
    public func accumulateGradient(_ g: Tensor) { slot.accumulateGradient(g) }

    /// The tape this variable was recorded on (shared by every input of an op).
    public var recordingTape: Tape {
        guard let tape else { preconditionFailure("the tape of this variable no longer exists") }
        return tape
    }
}

/// A variable's gradient without its value: what the tape keeps of every recorded op, and what a
/// pullback captures of an input whose value its backward formula does not need.
public final class GradientSlot {
    public let shape: [Int]
    public let requiresGradient: Bool
    /// ∂loss/∂value after a backward pass (leaves only; intermediate gradients are freed).
    public internal(set) var gradient: Tensor?
    var index = -1

    init(shape: [Int], requiresGradient: Bool) {
        self.shape = shape
        self.requiresGradient = requiresGradient
    }

    /// Adds to the gradient; ignored when none is needed.
    public func accumulateGradient(_ g: Tensor) {
        guard requiresGradient else { return }
        precondition(g.shape == shape, "gradient \(g.shape) for a value of shape \(shape)")
        if gradient == nil { gradient = g } else { gradient! += g }
    }
}

/// A trainable tensor, owned by a layer; its gradient accumulates across backward passes until the
/// optimiser consumes it.
public final class Parameter {
    /// PyTorch's name for it, e.g. `layer1.0.conv1.weight` (set by the model that owns it).
    public var name: String
    public var value: Tensor
    public var gradient: Tensor?

    public init(_ value: Tensor, name: String = "") {
        self.value = value
        self.name = name
    }

    public func accumulateGradient(_ g: Tensor) {
        if gradient == nil { gradient = g } else { gradient! += g }
    }

    public func zeroGradient() { gradient = nil }
}
