import XCTest
import Autodiff
import NN
import Robustness
import Tensors

/// Transfer sets (gray- and black-box) are the final PGD iterate by default, not each example's
/// first success: on two independently trained models, the final iterate transfers far better.
final class TransferSetTests: XCTestCase {
    nonisolated(unsafe) static var trained: (source: ResNet, target: ResNet, test: LabeledImages)?

    /// Two tiny standard models of the same architecture from different seeds (a gray-box pair).
    func models() throws -> (source: ResNet, target: ResNet, test: LabeledImages) {
        if let t = Self.trained { return t }
        let (train, test) = try Fixtures.fashionMNIST(train: 2048, test: 256)
        let source = Fixtures.tinyResNet(seed: 21), target = Fixtures.tinyResNet(seed: 22)
        Fixtures.train(source, on: train, defense: .none, epochs: 2, seed: 1)
        Fixtures.train(target, on: train, defense: .none, epochs: 2, seed: 2)
        Self.trained = (source, target, test)
        return Self.trained!
    }

    func testTransferSetIsTheFinalIterateOfPGD() throws {
        let (source, _, test) = try models()
        let x = test.images.rows(0..<64), labels = Array(test.labels[0..<64])
        for k in [3, 10] {
            let c = PGDConfiguration(epsilon: 0.1, stepSize: 0.02, iterations: k)
            var a = SeededRandom(seed: 9), b = SeededRandom(seed: 9)
            let recorded = PGD.attack(source, images: x, labels: labels, configuration: c, rng: &a, recordingAfter: [k])
            let final = PGD.perturb(source, images: x, labels: labels, configuration: c, rng: &b)
            XCTAssertEqual(recorded.transferAfter[k]!.scalars, final.scalars, "transfer set after \(k) iterations")
        }
        // A shorter recorded count is the same trajectory's earlier iterate.
        let long = PGDConfiguration(epsilon: 0.1, stepSize: 0.02, iterations: 10)
        var a = SeededRandom(seed: 9), b = SeededRandom(seed: 9)
        let recorded = PGD.attack(source, images: x, labels: labels, configuration: long, rng: &a, recordingAfter: [3, 10])
        let three = PGD.perturb(source, images: x, labels: labels, configuration: PGDConfiguration(epsilon: 0.1, stepSize: 0.02, iterations: 3),
                                rng: &b)
        XCTAssertEqual(recorded.transferAfter[3]!.scalars, three.scalars)
    }

    func testFinalIterateTransfersBetterThanFirstSuccess() throws {
        let (source, target, test) = try models()
        let attack = PGDConfiguration(epsilon: 0.1, stepSize: 0.02, iterations: 10)
        func transfer(_ rule: TransferRule) -> Float {
            evaluatePGD(target: target, source: source, threatModel: .grayBox, data: test, attack: attack, recordingAfter: [10],
                        transferRule: rule, batchSize: 128, seed: 5).evaluation.finalAccuracy
        }
        let final = transfer(.finalIterate), first = transfer(.firstSuccess), maxLoss = transfer(.maxLoss)
        print(String(format: "gray-box transfer accuracy (256 images, PGD-10, ε 0.1): final iterate %.1f%%, max loss %.1f%%, first success %.1f%%",
                     100 * final, 100 * maxLoss, 100 * first))
        XCTAssertLessThan(final, first - 0.04, "the final iterate should transfer better than the first success (measured: 41.0 % against 49.2 %)")
        XCTAssertLessThan(maxLoss, first - 0.04)
        // The evaluation scores exactly the stored transfer set.
        var rng = SeededRandom.derived(seed: 5, stream: 0)
        let set = PGD.perturb(source, images: test.images.rows(0..<128), labels: Array(test.labels[0..<128]), configuration: attack, rng: &rng)
        let onFirstBatch = evaluatePGD(target: target, source: source, threatModel: .grayBox, data: test.slice(0..<128), attack: attack,
                                       recordingAfter: [10], batchSize: 128, seed: 5)
        XCTAssertEqual(onFirstBatch.adversarial.scalars, set.scalars)
        XCTAssertEqual(onFirstBatch.evaluation.finalAccuracy,
                       evaluateAccuracy(target, on: LabeledImages(images: set, labels: Array(test.labels[0..<128]))), accuracy: 1e-6)
    }

    func testRulesKeepWhatTheyPromise() throws {
        let (source, _, test) = try models()
        let x = test.images.rows(0..<64), labels = Array(test.labels[0..<64])
        let c = PGDConfiguration(epsilon: 0.1, stepSize: 0.03, iterations: 6, restarts: 3)
        func run(_ rule: TransferRule) -> AttackResult {
            var rng = SeededRandom(seed: 4)
            return PGD.attack(source, images: x, labels: labels, configuration: c, rng: &rng, recordingAfter: [2, 6], transferRule: rule)
        }
        let final = run(.finalIterate), maxLoss = run(.maxLoss), first = run(.firstSuccess)
        func losses(_ images: Tensor) -> [Float] {
            let tape = Tape()
            return crossEntropyPerExample(logits: source(tape.input(images, requiresGradient: false), mode: .evaluation).logits.value,
                                          labels: labels)
        }
        for k in [2, 6] {
            // The max-loss image is at least as bad for the source as the final iterate, and strictly worse for some.
            let (lf, lm) = (losses(final.transferAfter[k]!), losses(maxLoss.transferAfter[k]!))
            for i in 0..<64 { XCTAssertGreaterThanOrEqual(lm[i], lf[i] - 1e-4, "example \(i) after \(k)") }
            // White-box evidence reproduces the attack's own bookkeeping, whatever the rule.
            let fooledEvidence = zip(predict(source, final.whiteBoxAfter[k]!), labels).map { $0 == $1 }
            XCTAssertEqual(fooledEvidence, final.robustAfter[k]!)
            // First success: the transfer set is the white-box evidence.
            XCTAssertEqual(first.transferAfter[k]!.scalars, first.whiteBoxAfter[k]!.scalars)
            // Every image stays in the ε-ball and in [0, 1].
            for set in [final.transferAfter[k]!, maxLoss.transferAfter[k]!, final.whiteBoxAfter[k]!] {
                XCTAssertLessThanOrEqual((set - x).scalars.map(abs).max()!, c.epsilon + 1e-6)
                XCTAssertGreaterThanOrEqual(set.scalars.min()!, 0)
                XCTAssertLessThanOrEqual(set.scalars.max()!, 1)
            }
        }
        // The white-box bookkeeping does not depend on the transfer rule.
        XCTAssertEqual(final.robustAfter[6]!, maxLoss.robustAfter[6]!)
        XCTAssertEqual(final.adversarial.scalars, first.adversarial.scalars)
    }
}
