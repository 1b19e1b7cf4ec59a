import Foundation
import Robustness

/// Each defense against a reference defense (default PAT) on the same test images, for every
/// threat model and ε of one attack: the difference in robust accuracy with a 95 % interval, a
/// p-value and a verdict in words, corrected for the number of comparisons.
///
/// - Difference: mean per-image outcome of the defense minus the reference's (points).
/// - Interval: the paired bootstrap over images (`PairedBootstrap`, 2000 replicates, seed 0): one
///   training seed, so only the test-set sampling error.
/// - p-value: the exact McNemar test on the per-image outcomes when both models are deterministic;
///   the paired bootstrap's when either is randomised (its outcomes are shares of inference draws).
/// - Multiple comparisons: Holm's correction over every comparison of the attack's table; a
///   difference is called significant when its Holm-adjusted p-value is below 0.05.
struct PairedComparisons {
    struct Comparison {
        var defense: String
        var column: String
        var difference: Double
        var interval: ConfidenceInterval
        var pValue: Double
        var test: String
        var adjusted: Double = 1
    }

    var referenceLabel: String?
    var comparisons: [Comparison] = []
    var examples = 0
    static let level = 0.05

    init(rows: [Report.Row], columns: [(threat: ThreatModel, epsilon: Float)], reference: String?) {
        guard let ref = rows.first(where: { $0.model == reference }) ?? rows.first(where: { $0.defense == "pat" }) else { return }
        referenceLabel = ref.label
        for column in columns {
            func outcomes(_ row: Report.Row) -> [Float]? {
                row.evaluations.first { $0.threatModel == column.threat && $0.epsilon == column.epsilon }?.perImage?.last
            }
            guard let second = outcomes(ref) else { continue }
            for row in rows where row.model != ref.model {
                guard let first = outcomes(row), first.count == second.count, !first.isEmpty else { continue }
                examples = max(examples, first.count)
                let bootstrap = PairedBootstrap(first: [first.map(Double.init)], second: [second.map(Double.init)], replicates: 2000, seed: 0)
                let binary = (first + second).allSatisfy { $0 == 0 || $0 == 1 }
                let p = binary ? McNemarTest(first: first.map { $0 == 1 }, second: second.map { $0 == 1 }).pValue : bootstrap.pValue
                comparisons.append(Comparison(defense: row.label, column: "\(column.threat.rawValue) ε=\(format(column.epsilon))",
                                              difference: bootstrap.difference, interval: bootstrap.interval, pValue: p,
                                              test: binary ? "McNemar" : "bootstrap"))
            }
        }
        for (i, adjusted) in holmAdjusted(comparisons.map(\.pValue)).enumerated() { comparisons[i].adjusted = adjusted }
    }

    func markdown(attack: String) -> String {
        guard let referenceLabel, !comparisons.isEmpty else { return "" }
        var out = "### Paired comparisons with \(referenceLabel) — \(attack)\n\n"
        out += "Each defense minus \(referenceLabel) on the same \(examples) test images after the full attack: difference in accuracy "
            + "(points) with its 95 % paired-bootstrap interval, the p-value (exact McNemar on per-image outcomes; the bootstrap's "
            + "where a model is randomised) and Holm's correction over the \(comparisons.count) comparisons of this table "
            + "(multiple comparisons); significant means Holm-adjusted p < \(Self.level).\n\n"
        out += "| defense | column | Δ (points) | 95 % interval | p | p (Holm) | verdict |\n|---|---|---:|---:|---:|---:|---|\n"
        for c in comparisons {
            let verdict = c.adjusted < Self.level
                ? (c.difference > 0 ? "more robust than \(referenceLabel)" : "less robust than \(referenceLabel)")
                : "no significant difference"
            out += String(format: "| %@ | %@ | %+.1f | %+.1f to %+.1f | %.3g (%@) | %.3g | %@ |\n", c.defense, c.column, 100 * c.difference,
                          100 * c.interval.low, 100 * c.interval.high, c.pValue, c.test, c.adjusted, verdict)
        }
        return out + "\n"
    }
}
