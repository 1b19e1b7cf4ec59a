import Autodiff
import Tensors

/// The shape of a ResNet: which family, which block, how many per group and how wide.
public struct ResNetConfiguration: Codable, Hashable, Sendable {
    public enum Family: String, Codable, Sendable {
        /// 7×7 stride-2 stem and 3×3 max-pool (He et al.'s ImageNet networks).
        case imagenet
        /// 3×3 stride-1 stem, no pooling (CIFAR-style networks for 28×28 and 32×32 images).
        case smallImage = "small-image"
    }
    public enum Block: String, Codable, Sendable { case basic, bottleneck }

    public var family: Family
    public var block: Block
    public var blocksPerGroup: [Int]
    public var widths: [Int]
    public var inputChannels: Int
    public var classes: Int
    public var normalizationMean: [Float]
    public var normalizationStd: [Float]
    /// Groups (0-based) after which a feature-denoising block (`NonLocalDenoising`, Xie et al. 2018) is
    /// inserted, named `denoise<g+1>` after `layer<g+1>`; nil (the default, omitted from the encoding)
    /// means none, so plain ResNets and their checkpoints are unchanged.
    public var denoisingGroups: [Int]?

    public init(family: Family, block: Block, blocksPerGroup: [Int], widths: [Int], inputChannels: Int, classes: Int,
                normalizationMean: [Float]? = nil, normalizationStd: [Float]? = nil, denoisingGroups: [Int]? = nil) {
        precondition(blocksPerGroup.count == widths.count && !widths.isEmpty, "one width per group")
        self.family = family; self.block = block; self.blocksPerGroup = blocksPerGroup; self.widths = widths
        self.inputChannels = inputChannels; self.classes = classes
        let standard = InputNormalization.standard(channels: inputChannels)
        self.normalizationMean = normalizationMean ?? standard.mean.value.scalars
        self.normalizationStd = normalizationStd ?? standard.std.value.scalars
        precondition(denoisingGroups?.allSatisfy { widths.indices.contains($0) } ?? true, "denoising group out of range")
        self.denoisingGroups = denoisingGroups
    }

    /// The ImageNet family by depth: 18, 34 (basic blocks), 50, 101, 152 (bottlenecks).
    public static func imagenet(depth: Int, inputChannels: Int = 3, classes: Int) -> ResNetConfiguration {
        let table: [Int: (Block, [Int])] = [18: (.basic, [2, 2, 2, 2]), 34: (.basic, [3, 4, 6, 3]),
                                            50: (.bottleneck, [3, 4, 6, 3]), 101: (.bottleneck, [3, 4, 23, 3]),
                                            152: (.bottleneck, [3, 8, 36, 3])]
        guard let (block, blocks) = table[depth] else { preconditionFailure("no ImageNet ResNet of depth \(depth)") }
        return ResNetConfiguration(family: .imagenet, block: block, blocksPerGroup: blocks, widths: [64, 128, 256, 512],
                                   inputChannels: inputChannels, classes: classes)
    }

    /// Small-image ResNet of depth 6n+2 with three groups (ResNet-20: n = 3, widths 16/32/64).
    public static func cifar(depth: Int, widths: [Int] = [16, 32, 64], inputChannels: Int, classes: Int) -> ResNetConfiguration {
        precondition((depth - 2) % 6 == 0, "small-image ResNet depth must be 6n+2, got \(depth)")
        let n = (depth - 2) / 6
        return ResNetConfiguration(family: .smallImage, block: .basic, blocksPerGroup: Array(repeating: n, count: widths.count),
                                   widths: widths, inputChannels: inputChannels, classes: classes)
    }

    public static func resnet20(inputChannels: Int = 1, classes: Int = 10) -> ResNetConfiguration {
        cifar(depth: 20, inputChannels: inputChannels, classes: classes)
    }

    /// ResNet-18's blocks and widths (64/128/256/512) on the small-image stem.
    public static func resnet18Small(inputChannels: Int = 3, classes: Int = 10) -> ResNetConfiguration {
        ResNetConfiguration(family: .smallImage, block: .basic, blocksPerGroup: [2, 2, 2, 2], widths: [64, 128, 256, 512],
                            inputChannels: inputChannels, classes: classes)
    }

    /// A short name for logs: `resnet20`, `resnet18-small`, `resnet101`.
    public var name: String {
        let perBlock = block == .basic ? 2 : 3
        let depth = blocksPerGroup.reduce(0, +) * perBlock + 2
        return family == .imagenet ? "resnet\(depth)" : (widths.count == 3 ? "resnet\(depth)" : "resnet\(depth)-small")
    }
}

/// A residual network (He et al. 2015) with PyTorch's parameter names (`conv1`, `bn1`,
/// `layer1.0.conv1`, …, `fc`), so that its checkpoints load into torchvision-style code.
///
///     var rng = SeededRandom(seed: 0)
///     let model = ResNet(.resnet20(), rng: &rng)
///     let out = model(tape.input(images, requiresGradient: false), mode: .evaluation)
///     out.logits, out.groups[0]   // N×10 and N×16×28×28
public final class ResNet: Classifier {
    public let configuration: ResNetConfiguration
    public let normalize: InputNormalization
    let conv1: Conv2d
    let bn1: BatchNorm2d
    let groups: [[any ResidualBlock]]
    let fc: Linear
    /// Feature-denoising blocks by group index (empty unless `configuration.denoisingGroups`).
    let denoisers: [Int: NonLocalDenoising]

    /// `name` prefixes every parameter and buffer name (`members.0` gives `members.0.conv1.weight`,
    /// for ensembles); empty by default.
    public init(_ configuration: ResNetConfiguration, name: String = "", rng: inout SeededRandom) {
        self.configuration = configuration
        let c = configuration
        normalize = InputNormalization(name: join(name, "normalize"), mean: c.normalizationMean, std: c.normalizationStd)
        let stem = c.widths[0]
        conv1 = c.family == .imagenet
            ? Conv2d(name: join(name, "conv1"), inChannels: c.inputChannels, outChannels: stem, kernel: 7, stride: 2, padding: 3, rng: &rng)
            : Conv2d(name: join(name, "conv1"), inChannels: c.inputChannels, outChannels: stem, kernel: 3, stride: 1, padding: 1, rng: &rng)
        bn1 = BatchNorm2d(name: join(name, "bn1"), channels: stem)
        let expansion = c.block == .basic ? BasicBlock.expansion : Bottleneck.expansion
        var inChannels = stem
        var built: [[any ResidualBlock]] = []
        var groupChannels: [Int] = []
        for (g, (count, width)) in zip(c.blocksPerGroup, c.widths).enumerated() {
            var blocks: [any ResidualBlock] = []
            for b in 0..<count {
                let stride = b == 0 && g > 0 ? 2 : 1
                let blockName = join(name, "layer\(g + 1).\(b)")
                blocks.append(c.block == .basic
                    ? BasicBlock(name: blockName, inChannels: inChannels, width: width, stride: stride, rng: &rng)
                    : Bottleneck(name: blockName, inChannels: inChannels, width: width, stride: stride, rng: &rng))
                inChannels = width * expansion
            }
            built.append(blocks)
            groupChannels.append(inChannels)
        }
        groups = built
        fc = Linear(name: join(name, "fc"), inFeatures: inChannels, outFeatures: c.classes, rng: &rng)
        // Built last, so the rest of the network draws the same weights as a plain ResNet of this seed.
        var denoisers: [Int: NonLocalDenoising] = [:]
        for g in Set(c.denoisingGroups ?? []).sorted() {
            denoisers[g] = NonLocalDenoising(name: join(name, "denoise\(g + 1)"), channels: groupChannels[g], rng: &rng)
        }
        self.denoisers = denoisers
    }

    private var orderedDenoisers: [NonLocalDenoising] { denoisers.keys.sorted().map { denoisers[$0]! } }

    public var parameters: [Parameter] {
        conv1.parameters + bn1.parameters + groups.flatMap { $0.flatMap(\.parameters) } + fc.parameters
            + orderedDenoisers.flatMap(\.parameters)
    }

    public var buffers: [Buffer] {
        normalize.buffers + bn1.buffers + groups.flatMap { $0.flatMap(\.buffers) } + orderedDenoisers.flatMap(\.buffers)
    }

    public func callAsFunction(_ x: Variable, mode: Mode) -> ClassifierOutput {
        var h = bn1.folding(conv1, normalize(x), mode: mode, relu: true)
        if configuration.family == .imagenet { h = maxPool2d(h, geometry: Conv2DGeometry(kernel: 3, stride: 2, padding: 1)) }
        var taps: [Variable] = []
        for (g, blocks) in groups.enumerated() {
            for block in blocks { h = block(h, mode: mode) }
            if let denoiser = denoisers[g] { h = denoiser(h, mode: mode) }
            taps.append(h)
        }
        return ClassifierOutput(logits: fc(globalAvgPool(h)), groups: taps)
    }
}

/// A block of a residual group (basic or bottleneck).
protocol ResidualBlock: Module {
    func callAsFunction(_ x: Variable, mode: Mode) -> Variable
}

extension BasicBlock: ResidualBlock {}
extension Bottleneck: ResidualBlock {}

extension ResNetConfiguration {
    public struct UnknownArchitecture: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "unknown architecture '\(name)': use resnet20/32/44/56/110 (small-image), resnet18-small, or resnet18/34/50/101/152 (ImageNet)"
        }
    }

    /// An architecture by name: `resnet20` … `resnet110` (small-image, 6n+2), `resnet18-small`, or the
    /// ImageNet family `resnet18`, `resnet34`, `resnet50`, `resnet101`, `resnet152`.
    public static func named(_ name: String, inputChannels: Int, classes: Int) throws -> ResNetConfiguration {
        if name == "resnet18-small" { return resnet18Small(inputChannels: inputChannels, classes: classes) }
        guard name.hasPrefix("resnet"), let depth = Int(name.dropFirst(6)) else { throw UnknownArchitecture(name: name) }
        if [18, 34, 50, 101, 152].contains(depth) { return imagenet(depth: depth, inputChannels: inputChannels, classes: classes) }
        if depth >= 8, (depth - 2) % 6 == 0 { return cifar(depth: depth, inputChannels: inputChannels, classes: classes) }
        throw UnknownArchitecture(name: name)
    }
}
