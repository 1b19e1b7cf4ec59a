import Foundation

/// The signs of gradient masking that Athalye, Carlini & Wagner (2018) teach to look for, checked on
/// a set of evaluations of one model. A failed check does not prove masking, but numbers that trip
/// one must not be reported as robustness without a stronger attack.
public struct SanityCheck: Codable, Hashable, Sendable {
    public var name: String
    public var passed: Bool
    public var detail: String
}

public enum SanityChecks {
    /// Points of accuracy by which a curve may wiggle upwards before it counts as rising (sampling noise
    /// of transfer attacks on finite test sets).
    public static let tolerance: Float = 0.5

    /// - Parameters:
    ///   - evaluations: every attack evaluation of the model (any threat model, ε, iterations).
    ///   - largeEpsilon: a white-box evaluation at a very large ε (e.g. 1.0), if one was run.
    ///   - classes: number of classes (chance level = 1/classes).
    public static func run(_ evaluations: [AttackEvaluation], largeEpsilon: AttackEvaluation? = nil, classes: Int) -> [SanityCheck] {
        var checks: [SanityCheck] = []
        // 1. More iterations must not help the model — against a white-box attack. A transfer set made by
        //    more iterations fits its source more closely and may transfer worse, which says nothing of
        //    the target's gradients (quick.yaml's black-box PGD-10 rose after 5 iterations for 4 defenses).
        for e in evaluations where e.threatModel == .whiteBox {
            let rises = zip(e.iterations, zip(e.accuracies, e.accuracies.dropFirst()))
                .filter { pointsExceed(100 * ($1.1 - $1.0), tolerance) }
            checks.append(SanityCheck(
                name: "accuracy does not rise with iterations (\(e.threatModel.rawValue), ε=\(format(e.epsilon)))",
                passed: rises.isEmpty,
                detail: rises.isEmpty ? "non-increasing over \(e.iterations)"
                    : "accuracy rises after \(rises.map { "\($0.0)" }.joined(separator: ", ")) iterations"))
        }
        // 2. A larger ε must not help the model (same threat model, full attack length).
        for threat in ThreatModel.allCases {
            let byEpsilon = evaluations.filter { $0.threatModel == threat }.sorted { $0.epsilon < $1.epsilon }
            guard byEpsilon.count > 1 else { continue }
            let bad = zip(byEpsilon, byEpsilon.dropFirst()).filter { pointsExceed(100 * ($1.finalAccuracy - $0.finalAccuracy), tolerance) }
            checks.append(SanityCheck(
                name: "accuracy does not rise with ε (\(threat.rawValue))",
                passed: bad.isEmpty,
                detail: bad.isEmpty ? "non-increasing over ε = \(byEpsilon.map { format($0.epsilon) }.joined(separator: ", "))"
                    : bad.map { "ε=\(format($0.epsilon)): \(percent($0.finalAccuracy)) → ε=\(format($1.epsilon)): \(percent($1.finalAccuracy))" }.joined(separator: "; ")))
        }
        // 3. White-box must not be weaker than transfer at the same ε.
        for white in evaluations where white.threatModel == .whiteBox {
            for transfer in evaluations where transfer.threatModel != .whiteBox && transfer.epsilon == white.epsilon {
                let ok = !pointsExceed(100 * (white.finalAccuracy - transfer.finalAccuracy), tolerance)
                checks.append(SanityCheck(
                    name: "white-box is at least as strong as \(transfer.threatModel.rawValue) (ε=\(format(white.epsilon)))",
                    passed: ok,
                    detail: "white-box \(percent(white.finalAccuracy)), \(transfer.threatModel.rawValue) \(percent(transfer.finalAccuracy))"))
            }
        }
        // 4. A very large ε must drive accuracy to about chance or below.
        if let large = largeEpsilon {
            let chance = 1 / Float(max(classes, 1))
            checks.append(SanityCheck(
                name: "a very large ε (\(format(large.epsilon))) drives accuracy to about zero",
                passed: large.finalAccuracy <= chance,
                detail: "accuracy \(percent(large.finalAccuracy)) (chance \(percent(chance)))"))
        }
        return checks
    }

    /// One line per failed check, in capitals, for logs and reports; empty when all pass.
    public static func warnings(_ checks: [SanityCheck]) -> [String] {
        checks.filter { !$0.passed }.map { "WARNING — POSSIBLE GRADIENT MASKING: \($0.name) FAILED: \($0.detail)" }
    }

    static func format(_ x: Float) -> String { String(format: "%g", Double(x)) }
    static func percent(_ x: Float) -> String { String(format: "%.1f %%", Double(100 * x)) }
}

/// Whether a difference of accuracies, in points, exceeds a threshold. Accuracies are counts over n
/// images stored as Float fractions, so a difference exactly at the threshold (53.5 − 50.5 = 3 points)
/// computes as 3.000003 and must not count as more; 1e-4 points is far below one image in 100 000.
func pointsExceed(_ points: Float, _ threshold: Float) -> Bool {
    points > threshold + 1e-4
}
