import XCTest
import Autodiff
import NN
import Robustness
import Tensors

final class DefenseTests: XCTestCase {
    /// Adversarial training must buy robustness: on the same white-box PGD, a PAT model keeps far more
    /// of its accuracy than a standard model trained on the same slice for the same time.
    func testAdversarialTrainingIsMoreRobustThanStandardTraining() throws {
        let (train, test) = try Fixtures.fashionMNIST(train: 2048, test: 256)
        let attack = PGDConfiguration(epsilon: 0.1, stepSize: 0.025, iterations: 5)
        let standard = Fixtures.tinyResNet(seed: 2), robust = Fixtures.tinyResNet(seed: 2)
        Fixtures.train(standard, on: train, defense: .none, epochs: 3)
        Fixtures.train(robust, on: train, defense: .adversarial(.pat(attack: attack)), epochs: 3)
        func robustAccuracy(_ m: ResNet) -> Float {
            var rng = SeededRandom(seed: 9)
            let r = PGD.attack(m, images: test.images, labels: test.labels,
                               configuration: PGDConfiguration(epsilon: 0.1, stepSize: 0.025, iterations: 10), rng: &rng)
            return Float(r.robust.filter { $0 }.count) / Float(test.count)
        }
        let standardRobust = robustAccuracy(standard), patRobust = robustAccuracy(robust)
        XCTAssertGreaterThan(patRobust, standardRobust + 0.25, "PAT \(patRobust) vs standard \(standardRobust)")
    }

    func testPairingTermsAreZeroWhenAdversarialEqualsClean() {
        let model = Fixtures.tinyResNet(seed: 3)
        var rng = SeededRandom(seed: 1)
        let x = Tensor.uniform(shape: [4, 1, 28, 28], using: &rng)
        let defense = Defense.adversarial(.atalp(alpha: 0.5, beta: 1))
        let (_, terms) = defense.loss(model: model, clean: x, adversarial: x, labels: [0, 1, 2, 3],
                                      tape: Tape(recordsParameterGradients: true))
        // Batch statistics differ between two forward passes only if the inputs differ.
        XCTAssertEqual(terms.logitPairing, 0)
        XCTAssertEqual(terms.attentionPairing, 0)
    }

    func testAblationsSwitchTheirTermsOff() {
        XCTAssertEqual(AdversarialObjective(preset: .pat, alpha: 0.5, beta: 1).alpha, 0)
        XCTAssertEqual(AdversarialObjective(preset: .pat, alpha: 0.5, beta: 1).beta, 0)
        XCTAssertEqual(AdversarialObjective(preset: .alp, alpha: 0.5, beta: 1).beta, 0)
        XCTAssertEqual(AdversarialObjective(preset: .at, alpha: 0.5, beta: 1).alpha, 0)
        let both = AdversarialObjective(preset: .atalp, alpha: 0.5, beta: 1)
        XCTAssertEqual([both.alpha, both.beta], [0.5, 1])
        // The preset is what the weights make it.
        for kind in [Defense.Kind.pat, .alp, .at, .atalp] { XCTAssertEqual(Defense.defaults(kind).kind, kind) }
    }
}
