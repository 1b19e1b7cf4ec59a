import Foundation

/// Whether a defense's PGD robustness is real: PGD's robust accuracy set against an AutoAttack-style
/// ensemble's (`AttackEnsemble`), in words a reader cannot miss.
///
/// Logit pairing and other defenses have looked robust under PGD and collapsed under stronger attacks
/// (Engstrom, Ilyas & Athalye 2018 on ALP; Athalye, Carlini & Wagner 2018 on obfuscated gradients).
/// The two signs of gradient masking checked here are those of Croce & Hein 2020:
///
/// - **gap**: PGD's robust accuracy exceeds the ensemble's by more than `thresholdPoints` percentage
///   points (default 3: a few points, more than the run-to-run noise of a well-tuned attack on a few
///   thousand examples, far less than the 10–50 points by which masked defenses are usually off);
/// - **gradient-free beats gradient**: a gradient-free attack of the ensemble (Square) lowers the robust
///   accuracy by more than `gradientFreePoints` points (default 1) below both PGD's number and the
///   accuracy the ensemble's gradient attacks before it left. On an honest model the gradient attacks
///   find nearly everything and Square adds close to nothing; 1 point is above what a single example
///   weighs on an evaluation set of a few hundred.
///
/// Either sign gives `.likelyMasking`. `.caution` when neither fires but the comparison is weak: the
/// ensemble ran no gradient-free attack (a fully masked model fools every gradient attack alike, so the
/// gap alone cannot rule masking out), or the ensemble was weaker than PGD by more than the threshold
/// (its budget is too small). `.ok` otherwise.
///
///     let v = GradientMaskingVerdict(defense: "AT+ALP", cleanAccuracy: 0.85, pgdRobustAccuracy: 0.612,
///                                    pgdName: "PGD-20", ensemble: result)
///     print(v.message)
///     // AT+ALP — LIKELY GRADIENT MASKING: PGD-20 says 61.2 % but the AutoAttack-style ensemble finds 12.3 %
///     // (gap 48.9 points, more than 3.0); Square (gradient-free) beats the gradient attacks, breaking
///     // 20.1 points more than they did. PGD overstates this defense's robustness: report 12.3 %, not 61.2 %.
///     // Robust accuracy after each attack: APGD-CE 55.0 %, APGD-T 32.4 %, Square 12.3 %.
///
/// A gap without Square's help usually means a stronger loss (APGD-T's targeted DLR) found what PGD's
/// cross-entropy missed; it is flagged all the same, since PGD's number overstates the robustness either
/// way, and the per-attack accuracies at the end of the message show which attack found the difference.
public struct GradientMaskingVerdict: Codable, Hashable, Sendable {
    public enum Severity: String, Codable, Hashable, Sendable, Comparable {
        case ok, caution, likelyMasking

        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        private var rank: Int {
            switch self {
            case .ok: 0
            case .caution: 1
            case .likelyMasking: 2
            }
        }
    }

    public var severity: Severity
    /// One paragraph for the report, beginning with the severity in capitals.
    public var message: String
    /// PGD's robust accuracy minus the ensemble's, in percentage points (negative: the ensemble was weaker).
    public var gapPoints: Float
    /// How far the gradient-free attacks lowered the robust accuracy below PGD's number and below what the
    /// gradient attacks before them left, in percentage points.
    public var gradientFreeExtraPoints: Float
    /// Whether the gap exceeds `thresholdPoints`.
    public var gapExceedsThreshold: Bool
    /// Whether a gradient-free attack beat the gradient attacks by more than `gradientFreePoints`.
    public var gradientFreeBeatsGradient: Bool
    /// The lowest robust accuracy any attack found: the number to report.
    public var worstCaseAccuracy: Float

    /// - Parameters:
    ///   - defense: a name to begin the message with (nil: none).
    ///   - cleanAccuracy, pgdRobustAccuracy: fractions in [0, 1].
    ///   - pgdName: how the message names the PGD evaluation, e.g. "PGD-20".
    ///   - stages: the ensemble's stages in the order they ran, with cumulative robust accuracies.
    ///   - ensembleAccuracy: the ensemble's robust accuracy as evaluated, when that differs from the
    ///     attacker's own count in `stages` (a randomised model: the mean over inference draws, where
    ///     the attacker counts an example broken once one draw fails); default: the last stage's.
    ///   - thresholdPoints: the largest PGD-versus-ensemble gap, in points, that is not flagged.
    ///   - gradientFreePoints: the largest extra drop, in points, a gradient-free attack may add unflagged.
    public init(defense: String? = nil, cleanAccuracy: Float, pgdRobustAccuracy pgd: Float, pgdName: String = "PGD",
                stages: [EnsembleResult.Stage], ensembleAccuracy: Float? = nil, ensembleName: String = "the AutoAttack-style ensemble",
                thresholdPoints: Float = 3, gradientFreePoints: Float = 1) {
        let ran = stages.filter { $0.skipped == nil }
        let ensemble = ensembleAccuracy ?? stages.last?.robustAccuracy ?? cleanAccuracy
        var extra: Float = 0, squareNames: [String] = []
        for (s, stage) in stages.enumerated() where !stage.usesGradients && stage.skipped == nil {
            let before = s == 0 ? cleanAccuracy : stages[s - 1].robustAccuracy
            let drop = max(0, min(before, pgd) - stage.robustAccuracy)
            extra += drop
            if !squareNames.contains(stage.name) { squareNames.append(stage.name) }
        }
        gapPoints = 100 * (pgd - ensemble)
        gradientFreeExtraPoints = 100 * extra
        gapExceedsThreshold = pointsExceed(gapPoints, thresholdPoints)
        gradientFreeBeatsGradient = pointsExceed(gradientFreeExtraPoints, gradientFreePoints)
        worstCaseAccuracy = min(pgd, ensemble)

        let hasGradientFree = ran.contains { !$0.usesGradients }
        if gapExceedsThreshold || gradientFreeBeatsGradient {
            severity = .likelyMasking
        } else if !hasGradientFree || pointsExceed(-gapPoints, thresholdPoints) {
            severity = .caution
        } else {
            severity = .ok
        }

        func pct(_ a: Float) -> String { String(format: "%.1f %%", 100 * a) }
        func pts(_ p: Float) -> String { String(format: "%.1f", p) }
        let gradientFreeName = squareNames.isEmpty ? "Square" : squareNames.joined(separator: " and ")
        var parts: [String] = []
        switch severity {
        case .likelyMasking:
            var s = "LIKELY GRADIENT MASKING: \(pgdName) says \(pct(pgd)) "
            s += gapExceedsThreshold
                ? "but \(ensembleName) finds \(pct(ensemble)) (gap \(pts(gapPoints)) points, more than \(pts(thresholdPoints)))"
                : "and \(ensembleName) finds \(pct(ensemble)) (gap \(pts(gapPoints)) points)"
            if gradientFreeBeatsGradient {
                s += "; \(gradientFreeName) (gradient-free) beats the gradient attacks, breaking \(pts(gradientFreeExtraPoints)) points more than they did"
            }
            parts.append(s + ".")
            parts.append("PGD overstates this defense's robustness: report \(pct(worstCaseAccuracy)), not \(pct(pgd)).")
        case .caution:
            if pointsExceed(-gapPoints, thresholdPoints) {
                parts.append("CAUTION: \(ensembleName) finds \(pct(ensemble)), weaker than \(pgdName) (\(pct(pgd))) by \(pts(-gapPoints)) points;"
                             + " its budget may be too small. The lower number, \(pct(worstCaseAccuracy)), is the better bound.")
            }
            if !hasGradientFree {
                parts.append((parts.isEmpty ? "CAUTION: \(pgdName) says \(pct(pgd)) and \(ensembleName) finds \(pct(ensemble)) (gap \(pts(gapPoints)) points), but" : "Also,")
                             + " no gradient-free attack ran, so gradient masking cannot be ruled out: a masked model fools every gradient attack alike.")
            }
        case .ok:
            parts.append("OK: \(pgdName) says \(pct(pgd)) and \(ensembleName) finds \(pct(ensemble)) (gap \(pts(gapPoints)) points, within \(pts(thresholdPoints)));"
                         + " \(gradientFreeName) (gradient-free) adds \(pts(gradientFreeExtraPoints)) points. No sign of gradient masking.")
        }
        if severity != .ok && !ran.isEmpty {
            // Which attack found what PGD missed: the reader can tell a stronger loss (APGD-T) from a
            // gradient-free attack seeing through masked gradients (Square).
            parts.append("Robust accuracy after each attack" + (abs(ensemble - (stages.last?.robustAccuracy ?? ensemble)) < 1e-4 ? "" : " (the attacker's own count)") + ": "
                         + ran.map { "\($0.name) \(pct($0.robustAccuracy))" }.joined(separator: ", ") + ".")
        }
        let skipped = stages.compactMap(\.skipped)
        if !skipped.isEmpty { parts.append("Not run: " + skipped.joined(separator: "; ") + ".") }
        if cleanAccuracy < pgd { parts.append("Note: \(pgdName)'s robust accuracy exceeds the clean accuracy (\(pct(cleanAccuracy))); check the evaluation.") }
        message = (defense.map { "\($0) — " } ?? "") + parts.joined(separator: " ")
    }

    /// The verdict for an ensemble run (see the designated initialiser).
    public init(defense: String? = nil, pgdRobustAccuracy: Float, pgdName: String = "PGD", ensemble: EnsembleResult,
                thresholdPoints: Float = 3, gradientFreePoints: Float = 1) {
        self.init(defense: defense, cleanAccuracy: ensemble.cleanAccuracy, pgdRobustAccuracy: pgdRobustAccuracy, pgdName: pgdName,
                  stages: ensemble.stages, thresholdPoints: thresholdPoints, gradientFreePoints: gradientFreePoints)
    }
}
