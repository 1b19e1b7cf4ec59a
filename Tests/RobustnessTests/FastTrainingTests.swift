import Autodiff
import NN
@testable import Robustness
import Store
import Tensors
import XCTest

/// Fast adversarial training: FGSM-RS (Wong et al. 2020), free training (Shafahi et al. 2019) and the
/// catastrophic-overfitting monitor.
final class FastTrainingTests: XCTestCase {
    func decodeAttack(_ json: String) throws -> (attack: PGDConfiguration, method: TrainingAttackMethod) {
        try TrainingAttackMethod.decode(from: try ParameterFields(json: json, source: "test"))
    }

    func testMethodDefaultsFollowTheirSources() throws {
        let fgsm = try decodeAttack(#"{"method": "fgsm", "epsilon": 0.1}"#)
        XCTAssertEqual(fgsm.method, .fgsm)
        XCTAssertEqual(fgsm.attack.iterations, 1)
        XCTAssertEqual(fgsm.attack.stepSize, 0.125, accuracy: 1e-7, "α = 1.25·ε (Wong et al.)")
        XCTAssertTrue(fgsm.attack.randomStart)
        let free = try decodeAttack(#"{"method": "free", "epsilon": 0.1}"#)
        XCTAssertEqual(free.method, .free(replays: 8), "m = 8 (Shafahi et al.'s CIFAR-10 value)")
        XCTAssertEqual(free.attack.stepSize, 0.1, accuracy: 1e-7, "step = ε (their fgsm_step = clip_eps)")
        let pgd = try decodeAttack(#"{"epsilon": 0.1, "iterations": 5}"#)
        XCTAssertEqual(pgd.method, .pgd)
        XCTAssertEqual(pgd.attack, PGDConfiguration(epsilon: 0.1, stepSize: nil, iterations: 5))
    }

    func testBadMethodSettingsNameTheKey() {
        func message(_ json: String) -> String {
            do { _ = try decodeAttack(json); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(#"{"method": "fgsm", "iterations": 3}"#),
                       "test: iterations: fgsm training takes one step per gradient pass (use method: pgd for 3 iterations)")
        XCTAssertEqual(message(#"{"method": "free", "replays": 0}"#), "test: replays: must be at least 1")
        XCTAssertTrue(message(#"{"method": "free", "random_start": true}"#).hasPrefix("test: random_start: unknown key"), message(#"{"method": "free", "random_start": true}"#))
        XCTAssertTrue(message(#"{"method": "fast"}"#).hasPrefix("test: method: unknown value 'fast'"))
    }

    /// Methods add keys only when not pgd: every stored model's key stays the same.
    func testPGDMethodAddsNoKeys() {
        let attack = PGDConfiguration(epsilon: 0.1, stepSize: 0.04, iterations: 3)
        XCTAssertEqual(TrainingAttackMethod.pgd.encode(attack), attack.parameters)
        XCTAssertEqual(Defense.adversarial(.pat(attack: attack)).parameters,
                       Defense.adversarial(AdversarialObjective(preset: .pat, attack: attack, method: .pgd)).parameters)
        XCTAssertNotEqual(Defense.adversarial(.pat(attack: attack)).parameters,
                          Defense.adversarial(AdversarialObjective(preset: .pat, attack: attack, method: .fgsm)).parameters)
    }

    /// FGSM-RS on real images: inside the ε-ball around x and inside [0, 1], and not x itself.
    func testFGSMRSStaysInsideTheBallAndTheImageRange() throws {
        let (_, test) = try Fixtures.fashionMNIST(train: 1, test: 64)
        let model = Fixtures.tinyResNet(seed: 1)
        for defense in [Defense.adversarial(AdversarialObjective(preset: .pat, attack: try decodeAttack(#"{"method": "fgsm", "epsilon": 0.1}"#).attack,
                                                                 method: .fgsm)),
                        .trades(TRADESObjective(attack: try decodeAttack(#"{"method": "fgsm", "epsilon": 0.1}"#).attack, method: .fgsm)),
                        .mart(MARTObjective(attack: try decodeAttack(#"{"method": "fgsm", "epsilon": 0.1}"#).attack, method: .fgsm))] {
            var rng = SeededRandom(seed: 3)
            let adv = try XCTUnwrap(defense.trainingExamples(model: model, images: test.images, labels: test.labels, rng: &rng))
            let distance = zip(adv.scalars, test.images.scalars).map { abs($0 - $1) }
            XCTAssertLessThanOrEqual(distance.max()!, 0.1 + 1e-6, "\(defense.kind)")
            XCTAssertGreaterThan(distance.max()!, 0.09, "\(defense.kind): the step reaches the ball's surface")
            XCTAssertTrue(adv.scalars.allSatisfy { (0...1).contains($0) }, "\(defense.kind)")
        }
    }

    /// Free training: the optimiser takes epochs × steps-per-epoch steps (the gradient budget of
    /// standard training), δ stays in the ε-ball, and the weights change.
    func testFreeTrainingKeepsTheBudgetAndTheBall() throws {
        let (train, _) = try Fixtures.fashionMNIST(train: 256, test: 1)
        let model = Fixtures.tinyResNet(seed: 4)
        let attack = PGDConfiguration(epsilon: 0.1, stepSize: 0.1, iterations: 1, randomStart: false)
        let defense = Defense.adversarial(AdversarialObjective(preset: .atalp, attack: attack, method: .free(replays: 2)))
        let trainer = Trainer(model: model, configuration: TrainingConfiguration(epochs: 2, batchSize: 64, learningRate: 0.05), defense: defense)
        let before = model.parameters[0].value.scalars
        var steps: [Int] = []
        trainer.run(on: train, onStep: { steps.append($0.step) })
        XCTAssertEqual(trainer.step, 2 * 4)
        XCTAssertEqual(steps, Array(1...8))
        let delta = try XCTUnwrap(trainer.freePerturbation)
        XCTAssertLessThanOrEqual(delta.scalars.map(abs).max()!, 0.1 + 1e-6)
        XCTAssertGreaterThan(delta.scalars.map(abs).max()!, 0.05, "δ moved")
        XCTAssertNotEqual(model.parameters[0].value.scalars, before)
    }

    func testOverfittingCriterion() {
        // PGD falls by more than 0.2 from its best while FGSM rises above its value there: flagged at that check.
        XCTAssertEqual(CatastrophicOverfitting.firstCheck(pgd: [0.4, 0.5, 0.1], fgsm: [0.5, 0.6, 0.9]), 2)
        XCTAssertNil(CatastrophicOverfitting.firstCheck(pgd: [0.4, 0.5, 0.1], fgsm: [0.5, 0.6, 0.3]), "both fell: not the signature")
        XCTAssertNil(CatastrophicOverfitting.firstCheck(pgd: [0.4, 0.5, 0.35], fgsm: [0.5, 0.6, 0.9]), "a fall of 0.15 from 0.5: not a collapse")
        // From a low best, a fall to under half counts (18 % → 7 %), but not one inside the noise floor (8 % → 3.5 %).
        XCTAssertEqual(CatastrophicOverfitting.firstCheck(pgd: [0.10, 0.18, 0.11, 0.07], fgsm: [0.14, 0.28, 0.25, 0.31]), 3)
        XCTAssertNil(CatastrophicOverfitting.firstCheck(pgd: [0.08, 0.035], fgsm: [0.2, 0.3]))
        XCTAssertNil(CatastrophicOverfitting.firstCheck(pgd: [0.1], fgsm: [0.9]))
        XCTAssertTrue(CatastrophicOverfitting.warning(model: "m", epoch: 3, pgd: (0.5, 0.1), fgsm: (0.6, 0.9))
            .hasPrefix("⚠ CATASTROPHIC OVERFITTING: m at epoch 3: PGD validation accuracy fell from its best 50.0% to 10.0% while FGSM accuracy rose from 60.0% to 90.0%"))
    }

    /// A deliberately bad setting — FGSM from x itself (no random start) with a large step at a large
    /// ε — overfits catastrophically within a few epochs on a small real slice, and the monitor says so.
    /// Measured (2026-11-29): PGD-10 validation accuracy by epoch 11, 10, 16, 18, 11, 5, 7, 7 % while
    /// FGSM's rose 14, 20, 26, 28, 28, 25, 31, 31 %: flagged at epoch 7 (index 6). At ε = 0.1 the same run
    /// did not overfit (PGD and FGSM accuracy rose together to ~30 %).
    func testFGSMWithoutRandomStartOverfitsCatastrophically() throws {
        let (train, validation) = try Fixtures.fashionMNIST(train: 1024, test: 256)
        let epsilon: Float = 0.2
        let attack = PGDConfiguration(epsilon: epsilon, stepSize: 2 * epsilon, iterations: 1, randomStart: false)
        let model = Fixtures.tinyResNet(seed: 6)
        let trainer = Trainer(model: model, configuration: TrainingConfiguration(epochs: 8, batchSize: 64, learningRate: 0.1, seed: 1),
                              defense: .adversarial(AdversarialObjective(preset: .pat, attack: attack, method: .fgsm)))
        var pgd: [Double] = [], fgsm: [Double] = []
        func accuracy(_ c: PGDConfiguration) -> Double {
            evaluatePGD(target: model, source: model, threatModel: .whiteBox, data: validation, attack: c, recordingAfter: [], seed: 3)
                .evaluation.finalAccuracy.double
        }
        var flagged: Int?
        trainer.run(on: train, onEpochEnd: { _ in
            pgd.append(accuracy(CatastrophicOverfitting.pgdAttack(epsilon: epsilon)))
            fgsm.append(accuracy(CatastrophicOverfitting.fgsmAttack(epsilon: epsilon)))
            flagged = CatastrophicOverfitting.firstCheck(pgd: pgd, fgsm: fgsm)
            return flagged == nil
        })
        XCTAssertNotNil(flagged, "PGD accuracy by epoch \(pgd), FGSM \(fgsm)")
    }
}

private extension Float {
    var double: Double { Double(self) }
}
