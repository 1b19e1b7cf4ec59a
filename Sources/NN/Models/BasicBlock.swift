import Autodiff
import Tensors

/// The two-convolution residual block of ResNet-18/34 and the small-image ResNets:
/// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut = identity or 1×1 conv + BN
/// when the shape changes (PyTorch's `downsample`).
public final class BasicBlock: Module {
    public static let expansion = 1
    let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    let downsample: (conv: Conv2d, bn: BatchNorm2d)?

    public init(name: String, inChannels: Int, width: Int, stride: Int, rng: inout SeededRandom) {
        conv1 = Conv2d(name: join(name, "conv1"), inChannels: inChannels, outChannels: width, kernel: 3, stride: stride, padding: 1, rng: &rng)
        bn1 = BatchNorm2d(name: join(name, "bn1"), channels: width)
        conv2 = Conv2d(name: join(name, "conv2"), inChannels: width, outChannels: width, kernel: 3, padding: 1, rng: &rng)
        bn2 = BatchNorm2d(name: join(name, "bn2"), channels: width)
        downsample = stride != 1 || inChannels != width
            ? (Conv2d(name: join(name, "downsample.0"), inChannels: inChannels, outChannels: width, kernel: 1, stride: stride, rng: &rng),
               BatchNorm2d(name: join(name, "downsample.1"), channels: width))
            : nil
    }

    public var parameters: [Parameter] {
        conv1.parameters + bn1.parameters + conv2.parameters + bn2.parameters
            + (downsample.map { $0.conv.parameters + $0.bn.parameters } ?? [])
    }
    public var buffers: [Buffer] { bn1.buffers + bn2.buffers + (downsample?.bn.buffers ?? []) }

    public func callAsFunction(_ x: Variable, mode: Mode) -> Variable {
        let y = bn2.folding(conv2, bn1.folding(conv1, x, mode: mode, relu: true), mode: mode)
        let shortcut = downsample.map { $0.bn.folding($0.conv, x, mode: mode) } ?? x
        return addReLU(y, shortcut)
    }
}

/// The three-convolution bottleneck of ResNet-50/101/152 (torchvision's v1.5: stride on the 3×3):
/// 1×1 reduce → 3×3 → 1×1 expand (×4), plus the shortcut.
public final class Bottleneck: Module {
    public static let expansion = 4
    let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d, conv3: Conv2d, bn3: BatchNorm2d
    let downsample: (conv: Conv2d, bn: BatchNorm2d)?

    public init(name: String, inChannels: Int, width: Int, stride: Int, rng: inout SeededRandom) {
        let out = width * Self.expansion
        conv1 = Conv2d(name: join(name, "conv1"), inChannels: inChannels, outChannels: width, kernel: 1, rng: &rng)
        bn1 = BatchNorm2d(name: join(name, "bn1"), channels: width)
        conv2 = Conv2d(name: join(name, "conv2"), inChannels: width, outChannels: width, kernel: 3, stride: stride, padding: 1, rng: &rng)
        bn2 = BatchNorm2d(name: join(name, "bn2"), channels: width)
        conv3 = Conv2d(name: join(name, "conv3"), inChannels: width, outChannels: out, kernel: 1, rng: &rng)
        bn3 = BatchNorm2d(name: join(name, "bn3"), channels: out)
        downsample = stride != 1 || inChannels != out
            ? (Conv2d(name: join(name, "downsample.0"), inChannels: inChannels, outChannels: out, kernel: 1, stride: stride, rng: &rng),
               BatchNorm2d(name: join(name, "downsample.1"), channels: out))
            : nil
    }

    public var parameters: [Parameter] {
        conv1.parameters + bn1.parameters + conv2.parameters + bn2.parameters + conv3.parameters + bn3.parameters
            + (downsample.map { $0.conv.parameters + $0.bn.parameters } ?? [])
    }
    public var buffers: [Buffer] { bn1.buffers + bn2.buffers + bn3.buffers + (downsample?.bn.buffers ?? []) }

    public func callAsFunction(_ x: Variable, mode: Mode) -> Variable {
        var y = bn1.folding(conv1, x, mode: mode, relu: true)
        y = bn2.folding(conv2, y, mode: mode, relu: true)
        y = bn3.folding(conv3, y, mode: mode)
        let shortcut = downsample.map { $0.bn.folding($0.conv, x, mode: mode) } ?? x
        return addReLU(y, shortcut)
    }
}
