import XCTest
import Robustness

/// Intervals and tests against values computed by SciPy 1.17.1:
///     python3 -c "from scipy import stats; print(stats.binomtest(131, 200).proportion_ci(0.95, 'wilson'))"
///     python3 -c "from scipy import stats; print(stats.binomtest(3, 15, 0.5).pvalue)"
final class StatisticsTests: XCTestCase {
    func testWilsonIntervalMatchesSciPy() {
        let cases: [(Int, Int, Double, Double)] = [
            (0, 10, 0.0, 0.27753279986288926), (10, 10, 0.7224672001371109, 1.0), (5, 10, 0.236593090512564, 0.7634069094874361),
            (131, 200, 0.5867558925905367, 0.7174020562325105), (1, 1000, 0.00017654637062607809, 0.0056425585979579355),
            (999, 1000, 0.9943574414020421, 0.9998234536293739),
        ]
        for (k, n, low, high) in cases {
            let ci = ConfidenceInterval.wilson(successes: k, trials: n)
            XCTAssertEqual(ci.low, low, accuracy: 1e-12, "\(k)/\(n)")
            XCTAssertEqual(ci.high, high, accuracy: 1e-12, "\(k)/\(n)")
        }
        XCTAssertEqual(ConfidenceInterval.wilson(successes: 0, trials: 0).high, 1)
        XCTAssertEqual(normalQuantile(0.975), 1.959963984540054, accuracy: 1e-12)
    }

    func testExactMcNemarMatchesSciPy() {
        let cases: [(Int, Int, Double)] = [(0, 0, 1), (0, 5, 0.0625), (3, 12, 0.03515625), (10, 10, 1), (1, 9, 0.021484375),
                                           (25, 40, 0.08168153394154003)]
        for (b, c, p) in cases {
            XCTAssertEqual(McNemarTest(firstOnly: b, secondOnly: c).pValue, p, accuracy: 1e-12, "b=\(b) c=\(c)")
            XCTAssertEqual(McNemarTest(firstOnly: c, secondOnly: b).pValue, p, accuracy: 1e-12, "symmetric")
        }
        let t = McNemarTest(first: [true, true, false, false, true], second: [false, true, true, false, false])
        XCTAssertEqual(t.firstOnly, 2)
        XCTAssertEqual(t.secondOnly, 1)
    }

    func testHolmAdjustsStepDownByHand() {
        // Sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → monotone 0.02, 0.03, 0.06, 0.06.
        let adjusted = holmAdjusted([0.01, 0.04, 0.03, 0.005])
        for (a, e) in zip(adjusted, [0.03, 0.06, 0.06, 0.02]) { XCTAssertEqual(a, e, accuracy: 1e-12) }
        XCTAssertEqual(holmAdjusted([0.5, 0.9]), [1, 1])
    }

    func testPairedBootstrapIsSeededAndSeesARealDifference() {
        // Three seeds, 400 images: the first defense is right on 60 % of them, the second on 50 %, nested.
        let first = (0..<3).map { s in (0..<400).map { i in Double((i + s) % 10 < 6 ? 1 : 0) } }
        let second = (0..<3).map { s in (0..<400).map { i in Double((i + s) % 10 < 5 ? 1 : 0) } }
        let a = PairedBootstrap(first: first, second: second, replicates: 500, seed: 7)
        let b = PairedBootstrap(first: first, second: second, replicates: 500, seed: 7)
        XCTAssertEqual(a, b, "same outcomes and seed, same bootstrap")
        XCTAssertEqual(a.difference, 0.1, accuracy: 1e-12)
        XCTAssertLessThan(a.interval.low, 0.1)
        XCTAssertGreaterThan(a.interval.low, 0.05)
        XCTAssertLessThan(a.pValue, 0.01)
        // Identical outcomes: no difference, p = 1.
        let same = PairedBootstrap(first: first, second: first, replicates: 200, seed: 1)
        XCTAssertEqual(same.difference, 0)
        XCTAssertEqual(same.pValue, 1)
    }

    func testSeedSpread() {
        let s = SeedSpread([0.60, 0.64, 0.62])
        XCTAssertEqual(s.mean, 0.62, accuracy: 1e-12)
        XCTAssertEqual(s.standardDeviation, 0.02, accuracy: 1e-12)
        XCTAssertEqual(s.minimum, 0.60)
        XCTAssertEqual(s.maximum, 0.64)
        XCTAssertEqual(SeedSpread([0.5]).standardDeviation, 0)
    }
}
