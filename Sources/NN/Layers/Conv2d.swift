import Autodiff
import Tensors

/// A 2-D convolution layer. Weight O×C×KH×KW, Kaiming-normal initialised (fan-out, ReLU gain), as
/// torchvision's ResNets do; optional bias.
public final class Conv2d: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let geometry: Conv2DGeometry

    public init(name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = false, rng: inout SeededRandom) {
        geometry = Conv2DGeometry(kernel: kernel, stride: stride, padding: padding)
        let std = (2 / Float(outChannels * kernel * kernel)).squareRoot()
        weight = Parameter(Tensor.normal(shape: [outChannels, inChannels, kernel, kernel], std: std, using: &rng),
                           name: join(name, "weight"))
        self.bias = bias ? Parameter(Tensor(shape: [outChannels]), name: join(name, "bias")) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func callAsFunction(_ x: Variable) -> Variable {
        let tape = x.recordingTape
        let y = conv2d(x, weight: tape.variable(for: weight), geometry: geometry)
        return bias.map { addChannelBias(y, tape.variable(for: $0)) } ?? y
    }
}
