import XCTest
import Autodiff
import NN
import Robustness
import Tensors

/// The gradient-masking verdict: PGD against the ensemble, in words.
final class VerdictTests: XCTestCase {
    typealias Stage = EnsembleResult.Stage

    /// AutoAttack's standard order with cumulative robust accuracies.
    func stages(_ ce: Float, _ t: Float, _ square: Float) -> [Stage] {
        [Stage(name: "APGD-CE", usesGradients: true, robustAccuracy: ce), Stage(name: "APGD-T", usesGradients: true, robustAccuracy: t),
         Stage(name: "Square", usesGradients: false, robustAccuracy: square)]
    }

    func testAnHonestDefenseIsOK() {
        let v = GradientMaskingVerdict(defense: "PAT", cleanAccuracy: 0.85, pgdRobustAccuracy: 0.451, pgdName: "PGD-20",
                                       stages: stages(0.445, 0.441, 0.440))
        XCTAssertEqual(v.severity, .ok)
        XCTAssertEqual(v.gapPoints, 1.1, accuracy: 1e-4)
        XCTAssertEqual(v.gradientFreeExtraPoints, 0.1, accuracy: 1e-4)
        XCTAssertFalse(v.gapExceedsThreshold || v.gradientFreeBeatsGradient)
        XCTAssertEqual(v.message, "PAT — OK: PGD-20 says 45.1 % and the AutoAttack-style ensemble finds 44.0 % (gap 1.1 points, within 3.0);"
                                  + " Square (gradient-free) adds 0.1 points. No sign of gradient masking.")
    }

    /// The example: PGD says 61.2 %, the ensemble 12.3 %, and most of the drop is Square's.
    func testALargeGapAndSquareWinningAreFlaggedInCapitals() {
        let v = GradientMaskingVerdict(defense: "AT+ALP", cleanAccuracy: 0.85, pgdRobustAccuracy: 0.612, pgdName: "PGD-20",
                                       stages: stages(0.55, 0.324, 0.123))
        XCTAssertEqual(v.severity, .likelyMasking)
        XCTAssertEqual(v.gapPoints, 48.9, accuracy: 1e-4)
        XCTAssertEqual(v.gradientFreeExtraPoints, 20.1, accuracy: 1e-4)
        XCTAssertEqual(v.worstCaseAccuracy, 0.123)
        XCTAssertEqual(v.message, "AT+ALP — LIKELY GRADIENT MASKING: PGD-20 says 61.2 % but the AutoAttack-style ensemble finds 12.3 %"
                                  + " (gap 48.9 points, more than 3.0); Square (gradient-free) beats the gradient attacks, breaking 20.1 points"
                                  + " more than they did. PGD overstates this defense's robustness: report 12.3 %, not 61.2 %."
                                  + " Robust accuracy after each attack: APGD-CE 55.0 %, APGD-T 32.4 %, Square 12.3 %.")
    }

    /// quick.yaml's AT row: PGD 53.5 %, ensemble 50.5 % on 200 images is a gap of exactly 3 points (Float:
    /// 3.0000005 for 9.0 % against 6.0 %), which is not more than the threshold.
    func testAGapExactlyAtTheThresholdIsNotFlagged() {
        for (pgd, ensemble) in [(Float(0.09), Float(0.06)), (0.535, 0.505)] {
            let v = GradientMaskingVerdict(cleanAccuracy: 0.8, pgdRobustAccuracy: pgd, stages: stages(pgd, ensemble, ensemble))
            XCTAssertFalse(v.gapExceedsThreshold, "gap \(v.gapPoints)")
            XCTAssertEqual(v.severity, .ok)
        }
    }

    func testSquareBeatingTheGradientAttacksIsFlaggedEvenWithASmallGap() {
        // PGD and APGD agree (every gradient attack is fooled alike); only Square sees through.
        let v = GradientMaskingVerdict(cleanAccuracy: 0.8, pgdRobustAccuracy: 0.50, stages: stages(0.50, 0.495, 0.487), thresholdPoints: 3,
                                       gradientFreePoints: 0.5)
        XCTAssertEqual(v.severity, .likelyMasking)
        XCTAssertFalse(v.gapExceedsThreshold)
        XCTAssertTrue(v.gradientFreeBeatsGradient)
        XCTAssertEqual(v.gradientFreeExtraPoints, 0.8, accuracy: 1e-4)
        XCTAssertTrue(v.message.hasPrefix("LIKELY GRADIENT MASKING: PGD says 50.0 % and the AutoAttack-style ensemble finds 48.7 % (gap 1.3 points);"
                                          + " Square (gradient-free) beats the gradient attacks, breaking 0.8 points"), v.message)
        // With the default of 1 point, a 0.8-point Square drop is within the noise.
        XCTAssertEqual(GradientMaskingVerdict(cleanAccuracy: 0.8, pgdRobustAccuracy: 0.50, stages: stages(0.50, 0.495, 0.487)).severity, .ok)
    }

    func testThresholdIsAParameter() {
        let s = stages(0.41, 0.40, 0.40)
        XCTAssertEqual(GradientMaskingVerdict(cleanAccuracy: 0.8, pgdRobustAccuracy: 0.44, stages: s).severity, .likelyMasking)
        XCTAssertEqual(GradientMaskingVerdict(cleanAccuracy: 0.8, pgdRobustAccuracy: 0.44, stages: s, thresholdPoints: 5).severity, .ok)
        XCTAssertEqual(GradientMaskingVerdict(cleanAccuracy: 0.8, pgdRobustAccuracy: 0.43, stages: s).severity, .ok, "exactly 3 points is not more than 3")
    }

    func testWeakComparisonsGetACaution() {
        // No gradient-free attack: a small gap proves nothing.
        let gradientOnly = Array(stages(0.40, 0.39, 0.39).prefix(2))
        let a = GradientMaskingVerdict(cleanAccuracy: 0.8, pgdRobustAccuracy: 0.40, stages: gradientOnly)
        XCTAssertEqual(a.severity, .caution)
        XCTAssertTrue(a.message.hasPrefix("CAUTION:") && a.message.contains("no gradient-free attack ran"), a.message)
        // An ensemble much weaker than PGD had too small a budget.
        let b = GradientMaskingVerdict(cleanAccuracy: 0.8, pgdRobustAccuracy: 0.30, stages: stages(0.40, 0.39, 0.39))
        XCTAssertEqual(b.severity, .caution)
        XCTAssertEqual(b.worstCaseAccuracy, 0.30)
        XCTAssertTrue(b.message.contains("weaker than PGD (30.0 %) by 9.0 points"), b.message)
        XCTAssertLessThan(GradientMaskingVerdict.Severity.ok, .caution)
        XCTAssertLessThan(GradientMaskingVerdict.Severity.caution, .likelyMasking)
    }

    /// The end-to-end requirement: on the model whose gradients are masked by quantisation, PGD
    /// reports robustness, the ensemble's Square attack takes it away, and the verdict says so.
    func testVerdictFlagsTheMaskedModel() throws {
        let (m, test) = try AttackFixtures.standardModel()
        let masked = QuantizedInput(m)
        let data = test.slice(0..<96), eps: Float = 0.1
        var rng = SeededRandom(seed: 17)
        let pgd = AttackFixtures.accuracy(PGD.attack(masked, images: data.images, labels: data.labels,
                                                     configuration: PGDConfiguration(epsilon: eps, stepSize: eps / 4, iterations: 20),
                                                     rng: &rng).robust)
        let ensemble = AttackEnsemble.run(masked, on: data, configuration: AttackEnsembleConfiguration(epsilon: eps, attacks: [
            .apgdCE(iterations: 20, restarts: 1), .apgdTargeted(iterations: 10, restarts: 1, targets: 3), .square(queries: 300, pInit: 0.8),
        ], seed: 1))
        let v = GradientMaskingVerdict(defense: "quantised input", pgdRobustAccuracy: pgd, pgdName: "PGD-20", ensemble: ensemble)
        print(v.message)
        XCTAssertEqual(v.severity, .likelyMasking)
        XCTAssertTrue(v.gapExceedsThreshold && v.gradientFreeBeatsGradient)
        XCTAssertTrue(v.message.contains("LIKELY GRADIENT MASKING") && v.message.contains("Square (gradient-free) beats the gradient attacks"))

        // The same model without the quantisation: Square finds next to nothing the gradient attacks missed.
        let honest = AttackEnsemble.run(m, on: data, configuration: AttackEnsembleConfiguration(epsilon: 0.02, attacks: [
            .apgdCE(iterations: 20, restarts: 1), .apgdTargeted(iterations: 10, restarts: 1, targets: 3), .square(queries: 100, pInit: 0.8),
        ], seed: 1))
        print("unmasked, ε = 0.02: clean \(honest.cleanAccuracy), " + honest.stages.map { "\($0.name) \($0.robustAccuracy)" }.joined(separator: ", "))
        XCTAssertLessThanOrEqual(honest.stages[2].broken, 1, "Square should add (almost) nothing on an unmasked model")
    }
}
