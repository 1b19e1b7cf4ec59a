import XCTest
import Autodiff
import NN
import Robustness
import Tensors

/// Counts the examples it is asked to classify (model queries), then defers to the wrapped model.
final class QueryCounter: Classifier {
    let inner: any Classifier
    var rows = 0
    init(_ inner: any Classifier) { self.inner = inner }
    var parameters: [Parameter] { inner.parameters }
    var buffers: [Buffer] { inner.buffers }
    func callAsFunction(_ x: Variable, mode: Mode) -> ClassifierOutput {
        rows += x.shape[0]
        return inner(x, mode: mode)
    }
}

/// The L∞ Square attack (Andriushchenko et al. 2020).
final class SquareAttackTests: XCTestCase {
    func testWindowScheduleHalvesAtThePapersIterations() {
        // Without rescaling the breakpoints are the paper's: p_init up to 10, halved after 10, 50, 200, …
        let c = SquareAttackConfiguration(epsilon: 0.1, queries: 10_002, pInit: 0.8, rescaleSchedule: false)
        let expected: [(Int, Float)] = [(0, 0.8), (10, 0.8), (11, 0.4), (50, 0.4), (51, 0.2), (200, 0.2), (201, 0.1), (501, 0.05),
                                        (1001, 0.025), (2001, 0.0125), (4001, 0.00625), (6001, 0.003125), (8001, 0.0015625)]
        for (i, p) in expected { XCTAssertEqual(c.windowShare(iteration: i), p, accuracy: 1e-7, "iteration \(i)") }
        // Rescaled to 1000 iterations, iteration 100 stands for 1000 of the paper's 10 000: p_init/16.
        let r = SquareAttackConfiguration(epsilon: 0.1, queries: 1002)
        XCTAssertEqual(r.iterations, 1000)
        XCTAssertEqual(r.windowShare(iteration: 100), 0.8 / 16, accuracy: 1e-7)
        XCTAssertEqual(r.windowShare(iteration: 101), 0.8 / 32, accuracy: 1e-7)
    }

    func testSquareRespectsEpsilonThePixelRangeAndItsQueryBudget() throws {
        let (m, test) = try AttackFixtures.standardModel()
        let counter = QueryCounter(m)
        let x = test.images.rows(0..<48), y = Array(test.labels[0..<48]), eps: Float = 0.05, budget = 60
        var rng = SeededRandom(seed: 31)
        let marks = [1, 2, 10, 30, 60]
        let out = SquareAttack.attackCountingQueries(counter, images: x, labels: y,
                                                     configuration: SquareAttackConfiguration(epsilon: eps, queries: budget),
                                                     rng: &rng, recordingAfter: marks)
        let r = out.result
        XCTAssertLessThanOrEqual(out.queries.max()!, budget)
        XCTAssertEqual(counter.rows, out.queries.reduce(0, +), "every query is counted, and only once")
        // Robust examples used the whole budget; broken ones stopped early.
        for i in 0..<48 where r.robust[i] { XCTAssertEqual(out.queries[i], budget) }
        let d = (r.adversarial - x).scalars.map(abs).max()!
        XCTAssertLessThanOrEqual(d, eps + 1e-6)
        XCTAssertGreaterThanOrEqual(r.adversarial.scalars.min()!, 0)
        XCTAssertLessThanOrEqual(r.adversarial.scalars.max()!, 1)
        let p = AttackFixtures.predictions(m, r.adversarial)
        for i in 0..<48 { XCTAssertEqual(p[i] == y[i], r.robust[i], "example \(i)") }
        let accuracies = marks.map { AttackFixtures.accuracy(r.robustAfter[$0]!) }
        for (a, b) in zip(accuracies, accuracies.dropFirst()) { XCTAssertLessThanOrEqual(b, a) }
        XCTAssertEqual(r.robustAfter[budget]!, r.robust)
        XCTAssertLessThan(accuracies.last!, accuracies[0], "60 queries at ε = 0.05 should break some examples")
    }

    /// The requirement: on a model whose gradients are masked by a non-differentiable
    /// quantisation, PGD gets nowhere while the gradient-free Square attack lowers the accuracy.
    func testSquareBreaksAMaskedModelWherePGDFails() throws {
        let (m, test) = try AttackFixtures.standardModel()
        let masked = QuantizedInput(m)
        let x = test.images.rows(0..<96), y = Array(test.labels[0..<96]), eps: Float = 0.1
        let clean = AttackFixtures.accuracy(zip(AttackFixtures.predictions(masked, x), y).map { $0 == $1 })
        var rng = SeededRandom(seed: 41)
        let pgd = AttackFixtures.accuracy(PGD.attack(masked, images: x, labels: y,
                                                     configuration: PGDConfiguration(epsilon: eps, stepSize: eps / 4, iterations: 20),
                                                     rng: &rng).robust)
        let square = AttackFixtures.accuracy(SquareAttack.attack(masked, images: x, labels: y,
                                                                 configuration: SquareAttackConfiguration(epsilon: eps, queries: 300),
                                                                 rng: &rng).robust)
        print("masked model, ε = \(eps): clean \(clean), PGD-20 \(pgd), Square-300 \(square)")
        // The fixture must classify well above chance (10 %) for a drop to mean anything; its exact
        // accuracy moves with the backend's float rounding during its training (0.594 on oneDNN).
        XCTAssertGreaterThan(clean, 0.5)
        XCTAssertGreaterThan(pgd, clean - 0.15, "PGD should be stalled by the zero gradient")
        XCTAssertLessThan(square, pgd - 0.3, "Square needs no gradient and should break the masked model")
    }

    func testSquareIsDeterministicGivenTheSeed() throws {
        let (m, test) = try AttackFixtures.standardModel()
        let x = test.images.rows(0..<16), y = Array(test.labels[0..<16])
        func run() -> AttackResult {
            var rng = SeededRandom(seed: 7)
            return SquareAttack.attack(m, images: x, labels: y, configuration: SquareAttackConfiguration(epsilon: 0.03, queries: 40), rng: &rng)
        }
        XCTAssertEqual(run().adversarial.scalars, run().adversarial.scalars)
    }
}
