import Data
import NN
import Robustness
import Tensors

/// Small slices of the real Fashion-MNIST and a tiny ResNet, shared by the robustness tests.
enum Fixtures {
    /// The first `train` training and `test` test images, in [0, 1].
    static func fashionMNIST(train: Int, test: Int) throws -> (train: LabeledImages, test: LabeledImages) {
        let (a, b) = try FashionMNIST.load()
        func labeled(_ d: ImageDataset, _ n: Int) -> LabeledImages {
            LabeledImages(pixels: d.images, shape: [d.count, d.channels, d.height, d.width], labels: d.labels.map(Int.init))
                .slice(0..<n)
        }
        return (labeled(a, train), labeled(b, test))
    }

    /// ResNet-8-like: widths 8/16, one block per group.
    static func tinyResNet(seed: UInt64) -> ResNet {
        var rng = SeededRandom(seed: seed)
        return ResNet(ResNetConfiguration(family: .smallImage, block: .basic, blocksPerGroup: [1, 1], widths: [8, 16],
                                          inputChannels: 1, classes: 10), rng: &rng)
    }

    static func train(_ model: ResNet, on data: LabeledImages, defense: Defense, epochs: Int, seed: UInt64 = 0) {
        let config = TrainingConfiguration(epochs: epochs, batchSize: 64, learningRate: 0.05, seed: seed)
        Trainer(model: model, configuration: config, defense: defense).run(on: data)
    }
}
