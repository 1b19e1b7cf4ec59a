import XCTest
import Autodiff
import NN
import Robustness
import Tensors

/// A fixed linear classifier on flattened images with a chosen number of classes (for cases the
/// 10-class fixture cannot show).
final class LinearToy: Classifier {
    let weight: Tensor
    init(inputs: Int, classes: Int, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        weight = Tensor.normal(shape: [classes, inputs], using: &rng)
    }
    var parameters: [Parameter] { [] }
    func callAsFunction(_ x: Variable, mode: Mode) -> ClassifierOutput {
        let tape = x.recordingTape
        return ClassifierOutput(logits: linear(flatten(x), weight: tape.constant(weight), bias: nil), groups: [])
    }
}

/// The AutoAttack-style ensemble: attacks in sequence on the still-robust examples.
final class AttackEnsembleTests: XCTestCase {
    func testEnsembleIsCumulativeAndAgreesWithTheModel() throws {
        let (m, test) = try AttackFixtures.standardModel()
        let data = test.slice(0..<128), eps: Float = 0.03
        let config = AttackEnsembleConfiguration(epsilon: eps, attacks: [
            .apgdCE(iterations: 10, restarts: 1), .apgdTargeted(iterations: 10, restarts: 1, targets: 3), .square(queries: 100, pInit: 0.8),
        ], batchSize: 48, seed: 5)
        var seen: [EnsembleProgress] = []
        let r = AttackEnsemble.run(m, on: data, configuration: config) { seen.append($0) }
        print("ensemble at ε = \(eps): clean \(r.cleanAccuracy), " + r.stages.map { "\($0.name) \($0.robustAccuracy)" }.joined(separator: ", "))

        XCTAssertEqual(r.stages.map(\.name), ["APGD-CE", "APGD-T", "Square"])
        XCTAssertEqual(r.stages.map(\.usesGradients), [true, true, false])
        let accuracies = [r.cleanAccuracy] + r.stages.map(\.robustAccuracy)
        for (a, b) in zip(accuracies, accuracies.dropFirst()) { XCTAssertLessThanOrEqual(b, a) }
        XCTAssertEqual(r.robustAccuracy, r.stages.last!.robustAccuracy)
        XCTAssertLessThan(r.robustAccuracy, r.cleanAccuracy, "the ensemble should break something at ε = 0.03")
        // Each attack ran only on what the earlier ones left standing.
        for (s, stage) in r.stages.enumerated() {
            let before = Int((s == 0 ? r.cleanAccuracy : r.stages[s - 1].robustAccuracy) * 128 + 0.5)
            XCTAssertEqual(stage.attacked, before, stage.name)
            XCTAssertEqual(Int(stage.robustAccuracy * 128 + 0.5), before - stage.broken, stage.name)
        }
        // Per-example fates agree with the model on the returned points, which stay in the ε-ball.
        let p = AttackFixtures.predictions(m, r.adversarial)
        for i in 0..<128 {
            switch r.fates[i] {
            case .robust: XCTAssertEqual(p[i], data.labels[i], "example \(i)")
            case .broken, .misclassified: XCTAssertNotEqual(p[i], data.labels[i], "example \(i)")
            }
        }
        XCTAssertEqual(AttackFixtures.accuracy(r.robust), r.robustAccuracy, accuracy: 1e-6)
        XCTAssertLessThanOrEqual((r.adversarial - data.images).scalars.map(abs).max()!, eps + 1e-6)
        // Progress reached the end of every stage.
        for (s, stage) in r.stages.enumerated() {
            XCTAssertEqual(seen.last { $0.stage == s }?.done, stage.attacked)
        }
    }

    func testOneBatchThroughTheWholeEnsemble() throws {
        let (m, test) = try AttackFixtures.standardModel()
        let x = test.images.rows(0..<32), y = Array(test.labels[0..<32]), eps: Float = 0.03
        let config = AttackEnsembleConfiguration(epsilon: eps, attacks: [.apgdCE(iterations: 5, restarts: 1), .square(queries: 30, pInit: 0.8)])
        var rng = SeededRandom(seed: 6)
        let r = AttackEnsemble.attack(m, images: x, labels: y, configuration: config, rng: &rng)
        XCTAssertEqual(Set(r.robustAfter.keys), [0, 1, 2])
        XCTAssertEqual(r.robustAfter[0]!, zip(AttackFixtures.predictions(m, x), y).map { $0 == $1 })
        XCTAssertEqual(r.robustAfter[2]!, r.robust)
        for k in 0..<2 { for i in 0..<32 where !r.robustAfter[k]![i] { XCTAssertFalse(r.robustAfter[k + 1]![i]) } }
        XCTAssertLessThan(AttackFixtures.accuracy(r.robust), AttackFixtures.accuracy(r.robustAfter[0]!))
        let p = AttackFixtures.predictions(m, r.adversarial)
        for i in 0..<32 { XCTAssertEqual(p[i] == y[i], r.robust[i], "example \(i)") }
        XCTAssertLessThanOrEqual((r.adversarial - x).scalars.map(abs).max()!, eps + 1e-6)
    }

    func testStandardEnsembleIsAutoAttacksWithoutFAB() {
        let c = AttackEnsembleConfiguration.standard(epsilon: 8 / 255)
        XCTAssertEqual(c.attacks, [.apgdCE(iterations: 100, restarts: 1), .apgdTargeted(iterations: 100, restarts: 1, targets: 9),
                                   .square(queries: 5000, pInit: 0.8)])
        let data = try? JSONEncoder().encode(c)
        XCTAssertNotNil(data)
        XCTAssertEqual(try JSONDecoder().decode(AttackEnsembleConfiguration.self, from: data!), c)
    }

    /// With three classes the targeted DLR loss is undefined (it needs π4): APGD-T is skipped and says
    /// why; APGD-CE, APGD-DLR and Square run.
    func testTooFewClassesSkipAPGDTWithAReason() {
        var rng = SeededRandom(seed: 2)
        let images = Tensor.uniform(shape: [20, 1, 4, 4], in: 0...1, using: &rng)
        let model = LinearToy(inputs: 16, classes: 3, seed: 4)
        let labels = AttackFixtures.predictions(model, images)   // all correct before the attack
        let config = AttackEnsembleConfiguration(epsilon: 0.05, attacks: [
            .apgdCE(iterations: 5, restarts: 1), .apgdTargeted(iterations: 5, restarts: 1, targets: 9),
            .apgdDLR(iterations: 5, restarts: 1), .square(queries: 20, pInit: 0.8),
        ])
        let r = AttackEnsemble.run(model, on: LabeledImages(images: images, labels: labels), configuration: config)
        XCTAssertEqual(r.cleanAccuracy, 1)
        XCTAssertEqual(r.stages.map { $0.skipped != nil }, [false, true, false, false])
        XCTAssertEqual(r.stages[1].skipped, "APGD-T needs at least 4 classes, the model has 3")
        XCTAssertEqual(r.stages[1].robustAccuracy, r.stages[0].robustAccuracy)
    }
}
