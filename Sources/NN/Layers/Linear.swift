import Autodiff
import Tensors

/// A fully connected layer y = x·Wᵀ + b, W: out×in, initialised as PyTorch's `nn.Linear`
/// (uniform in ±1/√in for weight and bias).
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?

    public init(name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true, rng: inout SeededRandom) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter(Tensor.uniform(shape: [outFeatures, inFeatures], in: -bound...bound, using: &rng),
                           name: join(name, "weight"))
        self.bias = bias ? Parameter(Tensor.uniform(shape: [outFeatures], in: -bound...bound, using: &rng),
                                     name: join(name, "bias")) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func callAsFunction(_ x: Variable) -> Variable {
        let tape = x.recordingTape
        return Autodiff.linear(x, weight: tape.variable(for: weight), bias: bias.map { tape.variable(for: $0) })
    }
}
