import XCTest
import NN
import Robustness
import Tensors

final class EvaluationTests: XCTestCase {
    func testWhiteBoxIsStrongerThanTransferAndCurvesAreMonotone() throws {
        let (train, test) = try Fixtures.fashionMNIST(train: 2048, test: 128)
        let target = Fixtures.tinyResNet(seed: 11), other = Fixtures.tinyResNet(seed: 12)
        Fixtures.train(target, on: train, defense: .none, epochs: 2, seed: 1)
        Fixtures.train(other, on: train, defense: .none, epochs: 2, seed: 2)
        let attack = PGDConfiguration(epsilon: 0.1, stepSize: 0.02, iterations: 10)
        let white = evaluatePGD(target: target, source: target, threatModel: .whiteBox, data: test, attack: attack,
                                recordingAfter: [2, 5, 10], batchSize: 64, seed: 3)
        let gray = evaluatePGD(target: target, source: other, threatModel: .grayBox, data: test, attack: attack,
                               recordingAfter: [2, 5, 10], batchSize: 64, seed: 3)
        XCTAssertEqual(white.evaluation.iterations, [2, 5, 10])
        XCTAssertEqual(white.adversarial.shape, test.images.shape)
        XCTAssertLessThanOrEqual(white.evaluation.finalAccuracy, gray.evaluation.finalAccuracy)
        XCTAssertLessThan(gray.evaluation.finalAccuracy, gray.evaluation.cleanAccuracy, "transferred examples should hurt too")
        // The white-box final accuracy is what the target gets on the returned images.
        XCTAssertEqual(white.evaluation.finalAccuracy, evaluateAccuracy(target, on: LabeledImages(images: white.adversarial, labels: test.labels)),
                       accuracy: 1e-6)
        let checks = SanityChecks.run([white.evaluation, gray.evaluation], classes: 10)
        XCTAssertTrue(checks.allSatisfy(\.passed), SanityChecks.warnings(checks).joined(separator: "\n"))
    }

    func testSanityChecksFlagTheSignsOfMasking() {
        func eval(_ threat: ThreatModel, _ eps: Float, _ accuracies: [Float]) -> AttackEvaluation {
            AttackEvaluation(threatModel: threat, epsilon: eps, stepSize: 0.01, restarts: 1, iterations: [10, 20, 50],
                             accuracies: accuracies, cleanAccuracy: 0.9, examples: 1000)
        }
        let rising = eval(.whiteBox, 0.1, [0.40, 0.45, 0.44])       // more iterations helped
        let largerEps = eval(.whiteBox, 0.2, [0.50, 0.50, 0.50])    // larger ε helped
        let transfer = eval(.blackBox, 0.1, [0.30, 0.30, 0.30])     // transfer stronger than white-box
        let huge = eval(.whiteBox, 1.0, [0.35, 0.35, 0.35])         // ε = 1 leaves 35 %
        let failed = SanityChecks.run([rising, largerEps, transfer], largeEpsilon: huge, classes: 10).filter { !$0.passed }.map(\.name)
        XCTAssertTrue(failed.contains { $0.hasPrefix("accuracy does not rise with iterations (white-box, ε=0.1)") })
        XCTAssertTrue(failed.contains { $0.hasPrefix("accuracy does not rise with ε (white-box)") })
        XCTAssertTrue(failed.contains { $0.hasPrefix("white-box is at least as strong as black-box") })
        XCTAssertTrue(failed.contains { $0.hasPrefix("a very large ε") })
        XCTAssertEqual(SanityChecks.run([eval(.whiteBox, 0.1, [0.4, 0.3, 0.3])], classes: 10).filter { !$0.passed }.count, 0)
        // A transfer set made by more iterations may transfer worse: not a sign of the target's masking.
        XCTAssertEqual(SanityChecks.run([eval(.blackBox, 0.1, [0.60, 0.66, 0.64])], classes: 10).filter { !$0.passed }.count, 0)
        // A rise of exactly the tolerance (0.5 points: one image in 200) is not above it, whatever Float makes of it.
        XCTAssertEqual(SanityChecks.run([eval(.whiteBox, 0.1, [0.02, 0.025, 0.025])], classes: 10).filter { !$0.passed }.count, 0)
    }
}
