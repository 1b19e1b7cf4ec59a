import XCTest
import Autodiff
import NN
import Robustness
import Tensors

/// PGD does what it claims, on a small model trained on real Fashion-MNIST.
final class AttackTests: XCTestCase {
    nonisolated(unsafe) static var trained: (ResNet, LabeledImages)?

    /// One tiny standard model, trained once for the whole class.
    func model() throws -> (ResNet, LabeledImages) {
        if let t = Self.trained { return t }
        let (train, test) = try Fixtures.fashionMNIST(train: 4096, test: 256)
        let m = Fixtures.tinyResNet(seed: 1)
        Fixtures.train(m, on: train, defense: .none, epochs: 4)
        Self.trained = (m, test)
        return (m, test)
    }

    func testPGDLowersAccuracyFarMoreThanNoiseOfTheSameSize() throws {
        let (m, test) = try model()
        let clean = evaluateAccuracy(m, on: test)
        XCTAssertGreaterThan(clean, 0.6, "the fixture model should have learned something")
        var rng = SeededRandom(seed: 3)
        let epsilon: Float = 0.1
        let noisy = LabeledImages(images: (test.images + Tensor.uniform(shape: test.images.shape, in: -epsilon...epsilon, using: &rng))
                                    .clamped(to: 0...1), labels: test.labels)
        let result = PGD.attack(m, images: test.images, labels: test.labels,
                                configuration: PGDConfiguration(epsilon: epsilon, stepSize: 0.025, iterations: 10), rng: &rng)
        let adversarial = LabeledImages(images: result.adversarial, labels: test.labels)
        let noiseAccuracy = evaluateAccuracy(m, on: noisy), pgdAccuracy = evaluateAccuracy(m, on: adversarial)
        XCTAssertGreaterThan(noiseAccuracy, clean - 0.25, "uniform noise of ε = 0.1 should hurt far less than an attack")
        XCTAssertLessThan(pgdAccuracy, 0.2, "PGD at ε = 0.1 should break an undefended model")
        XCTAssertLessThan(pgdAccuracy, noiseAccuracy - 0.4)
        // The attack's own bookkeeping agrees with re-evaluating its output.
        XCTAssertEqual(Float(result.robust.filter { $0 }.count) / Float(test.count), pgdAccuracy, accuracy: 1e-6)
    }

    func testAdversarialExamplesStayInTheEpsilonBallAndPixelRange() throws {
        let (m, test) = try model()
        var rng = SeededRandom(seed: 4)
        let x = test.images.rows(0..<32), eps: Float = 0.05
        let adv = PGD.attack(m, images: x, labels: Array(test.labels[0..<32]),
                             configuration: PGDConfiguration(epsilon: eps, stepSize: 0.02, iterations: 5, restarts: 2), rng: &rng).adversarial
        let d = (adv - x).scalars
        XCTAssertLessThanOrEqual(d.map(abs).max()!, eps + 1e-6)
        XCTAssertGreaterThanOrEqual(adv.scalars.min()!, 0)
        XCTAssertLessThanOrEqual(adv.scalars.max()!, 1)
    }

    func testMoreIterationsNeverHelpTheModel() throws {
        let (m, test) = try model()
        var rng = SeededRandom(seed: 5)
        let counts = [0, 1, 2, 5, 10, 20]
        let r = PGD.attack(m, images: test.images, labels: test.labels,
                           configuration: PGDConfiguration(epsilon: 0.03, stepSize: 0.005, iterations: 20), rng: &rng,
                           recordingAfter: counts)
        let accuracies = counts.map { k in Float(r.robustAfter[k]!.filter { $0 }.count) / Float(test.count) }
        for (a, b) in zip(accuracies, accuracies.dropFirst()) { XCTAssertLessThanOrEqual(b, a) }
        XCTAssertLessThan(accuracies.last!, accuracies.first!, "20 steps at ε = 0.03 should fool some examples")
    }

    func testTargetedPGDReachesTheTarget() throws {
        let (m, test) = try model()
        var rng = SeededRandom(seed: 6)
        let x = test.images.rows(0..<64)
        let targets = test.labels[0..<64].map { ($0 + 1) % 10 }
        let r = PGD.attack(m, images: x, labels: targets,
                           configuration: PGDConfiguration(epsilon: 0.2, stepSize: 0.02, iterations: 30, targeted: true), rng: &rng)
        let tape = Tape()
        let predictions = m(tape.input(r.adversarial, requiresGradient: false), mode: .evaluation).logits.value.argmaxPerRow()
        let hits = zip(predictions, targets).filter { $0 == $1 }.count
        XCTAssertGreaterThan(hits, 40, "a targeted attack at ε = 0.2 should reach most targets")
    }

    func testFGSMIsOneStepOfSizeEpsilon() throws {
        let (m, test) = try model()
        var rng = SeededRandom(seed: 7)
        let x = test.images.rows(0..<16)
        let adv = PGD.perturb(m, images: x, labels: Array(test.labels[0..<16]), configuration: .fgsm(epsilon: 0.05), rng: &rng)
        // Every pixel moves by exactly ε unless clipped to [0, 1] or its gradient is zero.
        for (a, b) in zip(adv.scalars, x.scalars) {
            let moved = abs(a - b)
            XCTAssertTrue(abs(moved - 0.05) < 1e-6 || moved == 0 || a == 0 || a == 1, "moved \(moved)")
        }
    }
}
