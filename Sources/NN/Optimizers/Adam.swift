import Foundation
import Autodiff
import Tensors

/// Adam (Kingma & Ba) with bias correction and PyTorch's L2 weight decay (added to the gradient):
///     m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr·m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)
public final class Adam: Optimizer {
    public let parameters: [Parameter]
    public var beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    private var m: [Tensor?], v: [Tensor?]
    private var steps = 0

    public init(parameters: [Parameter], beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.parameters = parameters
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        m = Array(repeating: nil, count: parameters.count)
        v = Array(repeating: nil, count: parameters.count)
    }

    public func step(learningRate lr: Float) {
        steps += 1
        let c1 = 1 - powf(beta1, Float(steps)), c2 = 1 - powf(beta2, Float(steps))
        for (i, p) in parameters.enumerated() {
            guard var g = p.gradient else { continue }
            p.gradient = nil
            if weightDecay != 0 { g.addScaled(p.value, weightDecay) }
            var mi = m[i] ?? Tensor(shape: g.shape), vi = v[i] ?? Tensor(shape: g.shape)
            m[i] = nil; v[i] = nil
            let (b1, b2, eps) = (beta1, beta2, epsilon)
            g.withUnsafeBufferPointer { gb in
                mi.withUnsafeMutableBufferPointer { mb in vi.withUnsafeMutableBufferPointer { vb in
                    p.value.withUnsafeMutableBufferPointer { theta in
                        for j in 0..<gb.count {
                            mb[j] = b1 * mb[j] + (1 - b1) * gb[j]
                            vb[j] = b2 * vb[j] + (1 - b2) * gb[j] * gb[j]
                            theta[j] -= lr * (mb[j] / c1) / ((vb[j] / c2).squareRoot() + eps)
                        }
                    }
                } }
            }
            m[i] = mi; v[i] = vi
        }
    }

    public var state: [String: Tensor] {
        var s: [String: Tensor] = ["adam.step": Tensor(scalar: Float(steps))]
        for (i, p) in parameters.enumerated() {
            if let a = m[i] { s[p.name + ".exp_avg"] = a }
            if let b = v[i] { s[p.name + ".exp_avg_sq"] = b }
        }
        return s
    }

    public func loadState(_ state: [String: Tensor]) throws {
        steps = Int(state["adam.step"]?.scalar ?? 0)
        for (i, p) in parameters.enumerated() {
            for (key, assign) in [(".exp_avg", 0), (".exp_avg_sq", 1)] {
                let t = state[p.name + key]
                if let t, t.shape != p.value.shape {
                    throw OptimizerStateError(description: "\(p.name + key) has shape \(t.shape), expected \(p.value.shape)")
                }
                if assign == 0 { m[i] = t } else { v[i] = t }
            }
        }
    }
}
