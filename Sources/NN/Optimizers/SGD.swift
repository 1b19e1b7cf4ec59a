import Autodiff
import Tensors

/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay, with PyTorch's
/// update rule (dampening 0):
///     g ← ∇ + λ·θ;  b ← μ·b + g;  θ ← θ − lr·(Nesterov ? g + μ·b : b)
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float
    private var buffers: [Tensor?]

    public init(parameters: [Parameter], momentum: Float = 0.9, nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(!nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        self.parameters = parameters
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step(learningRate lr: Float) {
        for (i, p) in parameters.enumerated() {
            guard var g = p.gradient else { continue }
            p.gradient = nil
            if weightDecay != 0 { g.addScaled(p.value, weightDecay) }
            if momentum != 0 {
                if var b = buffers[i] {
                    buffers[i] = nil  // keep the buffer uniquely referenced so it updates in place
                    b.withUnsafeMutableBufferPointer { bb in g.withUnsafeBufferPointer { gb in
                        for j in 0..<bb.count { bb[j] = momentum * bb[j] + gb[j] }
                    } }
                    buffers[i] = b
                } else {
                    buffers[i] = g
                }
                if nesterov { g.addScaled(buffers[i]!, momentum) } else { g = buffers[i]! }
            }
            p.value.addScaled(g, -lr)
        }
    }

    public var state: [String: Tensor] {
        var s: [String: Tensor] = [:]
        for (p, b) in zip(parameters, buffers) { if let b { s[p.name + ".momentum_buffer"] = b } }
        return s
    }

    public func loadState(_ state: [String: Tensor]) throws {
        for (i, p) in parameters.enumerated() {
            guard let b = state[p.name + ".momentum_buffer"] else { buffers[i] = nil; continue }
            guard b.shape == p.value.shape else {
                throw OptimizerStateError(description: "momentum buffer of \(p.name) has shape \(b.shape), expected \(p.value.shape)")
            }
            buffers[i] = b
        }
    }
}
