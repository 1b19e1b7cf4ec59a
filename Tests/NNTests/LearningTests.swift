import XCTest
import Autodiff
import NN
import Tensors

final class LearningTests: XCTestCase {
    /// The engine learns: a small ResNet memorises one batch of random images and labels.
    func testResNetOverfitsASmallBatch() {
        var rng = SeededRandom(seed: 21)
        let model = ResNet(ResNetConfiguration(family: .smallImage, block: .basic, blocksPerGroup: [1, 1], widths: [8, 16],
                                               inputChannels: 1, classes: 4), rng: &rng)
        let x = Tensor.uniform(shape: [16, 1, 12, 12], using: &rng)
        let labels = (0..<16).map { $0 % 4 }
        let optimizer = SGD(parameters: model.parameters, momentum: 0.9)
        var lastLoss: Float = .infinity
        for _ in 0..<150 {
            let tape = Tape(recordsParameterGradients: true)
            let loss = softmaxCrossEntropy(model(tape.input(x, requiresGradient: false), mode: .training).logits, labels: labels)
            lastLoss = loss.value.scalar
            tape.backward(from: loss)
            optimizer.step(learningRate: 0.05)
        }
        let tape = Tape()
        let predictions = model(tape.input(x, requiresGradient: false), mode: .training).logits.value.argmaxPerRow()
        XCTAssertEqual(predictions, labels, "final training loss \(lastLoss)")
        XCTAssertLessThan(lastLoss, 0.05)
    }

    func testBottleneckResNetRunsAndHasTorchvisionNames() {
        var rng = SeededRandom(seed: 1)
        let model = ResNet(ResNetConfiguration(family: .imagenet, block: .bottleneck, blocksPerGroup: [1, 1, 1, 1], widths: [4, 8, 8, 8],
                                               inputChannels: 3, classes: 5), rng: &rng)
        let tape = Tape()
        let out = model(tape.input(Tensor.uniform(shape: [2, 3, 32, 32], using: &rng), requiresGradient: false), mode: .evaluation)
        XCTAssertEqual(out.logits.shape, [2, 5])
        // 32 → stem /2 → pool /2 → 8, then /2 per later group: 8, 4, 2, 1.
        XCTAssertEqual(out.groups.map(\.shape), [[2, 16, 8, 8], [2, 32, 4, 4], [2, 32, 2, 2], [2, 32, 1, 1]])
        let names = Set(model.parameters.map(\.name))
        for n in ["conv1.weight", "bn1.weight", "layer1.0.conv3.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias", "fc.weight", "fc.bias"] {
            XCTAssertTrue(names.contains(n), "missing \(n)")
        }
    }

    func testResNet101HasTheRightSize() {
        // torchvision's resnet101 has 44,549,160 parameters with 1000 classes.
        var rng = SeededRandom(seed: 1)
        XCTAssertEqual(ResNet(.imagenet(depth: 101, classes: 1000), rng: &rng).parameterCount, 44_549_160)
    }

    func testResNet20GroupShapes() {
        var rng = SeededRandom(seed: 1)
        let model = ResNet(.resnet20(), rng: &rng)
        XCTAssertEqual(model.parameterCount, 272_186 - 0)  // 3 groups × 3 blocks, 1×1 projection shortcuts
        let tape = Tape()
        let out = model(tape.input(Tensor(shape: [2, 1, 28, 28]), requiresGradient: false), mode: .evaluation)
        XCTAssertEqual(out.groups.map(\.shape), [[2, 16, 28, 28], [2, 32, 14, 14], [2, 64, 7, 7]])
    }

    func testOptimisersFollowTheirUpdateRules() {
        // SGD, momentum 0.9, lr 0.1, θ = 1, ∇ = 2 twice: b₁ = 2, θ₁ = 0.8; b₂ = 0.9·2 + 2 = 3.8, θ₂ = 0.42.
        let p = Parameter(Tensor(shape: [1], values: [1]), name: "p")
        let sgd = SGD(parameters: [p], momentum: 0.9)
        p.gradient = Tensor(shape: [1], values: [2]); sgd.step(learningRate: 0.1)
        XCTAssertEqual(p.value.scalar, 0.8, accuracy: 1e-6)
        p.gradient = Tensor(shape: [1], values: [2]); sgd.step(learningRate: 0.1)
        XCTAssertEqual(p.value.scalar, 0.42, accuracy: 1e-6)
        // Adam's first step moves every coordinate by lr (m̂/√v̂ = ±1).
        let q = Parameter(Tensor(shape: [2], values: [1, 1]), name: "q")
        let adam = Adam(parameters: [q])
        q.gradient = Tensor(shape: [2], values: [3, -0.5]); adam.step(learningRate: 0.01)
        XCTAssertEqual(q.value.scalars[0], 0.99, accuracy: 1e-5)
        XCTAssertEqual(q.value.scalars[1], 1.01, accuracy: 1e-5)
    }

    func testLearningRateSchedules() {
        let cosine = LearningRateSchedule(base: 0.1, totalSteps: 110, warmupSteps: 10, decay: .cosine(minimum: 0))
        XCTAssertEqual(cosine.rate(at: 0), 0.01, accuracy: 1e-7)
        XCTAssertEqual(cosine.rate(at: 9), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.rate(at: 60), 0.05, accuracy: 1e-6)  // half way: (1 + cos π/2)/2
        XCTAssertEqual(cosine.rate(at: 110), 0, accuracy: 1e-7)
        let step = LearningRateSchedule(base: 1, totalSteps: 100, decay: .step(milestones: [50, 75], gamma: 0.1))
        XCTAssertEqual([step.rate(at: 49), step.rate(at: 50), step.rate(at: 99)], [1, 0.1, 0.010000001])
    }
}
