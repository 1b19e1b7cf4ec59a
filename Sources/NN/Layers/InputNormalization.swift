import Autodiff
import Tensors

/// (x − mean[c]) / std[c] as the first layer of a model, so that attacks and ε live in [0, 1] pixel
/// space while the network sees standardised inputs. Mean and std are buffers, saved in checkpoints.
public final class InputNormalization: Module {
    public let mean: Buffer
    public let std: Buffer

    public init(name: String = "normalize", mean: [Float], std: [Float]) {
        precondition(mean.count == std.count && std.allSatisfy { $0 > 0 }, "normalisation needs one positive std per mean")
        self.mean = Buffer(Tensor(shape: [mean.count], values: mean), name: join(name, "mean"))
        self.std = Buffer(Tensor(shape: [std.count], values: std), name: join(name, "std"))
    }

    public var parameters: [Parameter] { [] }
    public var buffers: [Buffer] { [mean, std] }

    public func callAsFunction(_ x: Variable) -> Variable {
        let scale = std.value.map { 1 / $0 }
        return channelAffine(x, scale: scale, shift: -(mean.value * scale))
    }

    /// Fashion-MNIST's training-set statistics for one channel, CIFAR-10's for three, and 0.5 ± 0.25
    /// otherwise; data sets with statistics of their own pass them explicitly.
    public static func standard(channels: Int) -> InputNormalization {
        switch channels {
        case 1: InputNormalization(mean: [0.2860], std: [0.3530])
        case 3: InputNormalization(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
        default: InputNormalization(mean: Array(repeating: 0.5, count: channels), std: Array(repeating: 0.25, count: channels))
        }
    }
}
