import Foundation
import Robustness

/// Each defense against a reference defense (default PAT) on the same test images, for every
/// threat model and ε of one attack: the difference in robust accuracy with a 95 % interval, a
/// p-value and a verdict in words, corrected for the number of comparisons.
///
/// - Difference: mean over seeds and images of the defense's per-image outcome minus the reference's (points).
/// - Interval: the paired bootstrap (`PairedBootstrap`, 2000 replicates, seed 0) over images for one
///   training seed (only the test-set sampling error), over seeds × images for several (seed s of the
///   defense paired with seed s of the reference; with unequal seed counts, the first of each).
/// - p-value: the exact McNemar test on the per-image outcomes for one seed of two deterministic
///   models; otherwise the paired bootstrap's (a randomised model's outcomes are shares of draws).
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
    /// The most seeds any comparison paired.
    var seeds = 1
    static let level = 0.05

    init(rows: [Report.Row], columns: [(threat: ThreatModel, epsilon: Float)], reference: String?) {
        guard let ref = rows.first(where: { $0.model == reference }) ?? rows.first(where: { $0.defense == "pat" }) else { return }
        referenceLabel = ref.label
        for column in columns {
            /// Per seed, the per-image outcomes after the full attack.
            func outcomes(_ row: Report.Row) -> [[Float]]? {
                let perSeed = row.evaluations(column.threat, column.epsilon).map { $0.perImage?.last }
                guard !perSeed.isEmpty, !perSeed.contains(where: { $0 == nil }) else { return nil }
                return perSeed.map { $0! }
            }
            guard let second = outcomes(ref) else { continue }
            for row in rows where row.model != ref.model {
                guard let first = outcomes(row), let n = first.first?.count, n > 0,
                      (first + second).allSatisfy({ $0.count == n }) else { continue }
                examples = max(examples, n)
                // Seeds pair by position; with unequal counts, the first min(a, b) of each.
                let seeds = min(first.count, second.count)
                self.seeds = max(self.seeds, seeds)
                let a = first.prefix(seeds).map { $0.map(Double.init) }, b = second.prefix(seeds).map { $0.map(Double.init) }
                let bootstrap = PairedBootstrap(first: Array(a), second: Array(b), replicates: 2000, seed: 0)
                let binary = seeds == 1 && (first[0] + second[0]).allSatisfy { $0 == 0 || $0 == 1 }
                let p = binary ? McNemarTest(first: first[0].map { $0 == 1 }, second: second[0].map { $0 == 1 }).pValue : bootstrap.pValue
                comparisons.append(Comparison(defense: row.label, column: "\(column.threat.rawValue) ε=\(format(column.epsilon))",
                                              difference: bootstrap.difference, interval: bootstrap.interval, pValue: p,
                                              test: binary ? "McNemar" : (seeds > 1 ? "bootstrap, \(seeds) seeds" : "bootstrap")))
            }
        }
        for (i, adjusted) in holmAdjusted(comparisons.map(\.pValue)).enumerated() { comparisons[i].adjusted = adjusted }
    }

    /// A p-value as printed: the bootstrap's smallest non-zero value is 1/2000, so 0 reads "< 0.0005".
    func pText(_ p: Double, _ test: String) -> String {
        p == 0 && test != "McNemar" ? "< 0.0005" : String(format: "%.3g", p)
    }

    func markdown(attack: String) -> String {
        guard let referenceLabel, !comparisons.isEmpty else { return "" }
        var out = "### Paired comparisons with \(referenceLabel) — \(attack)\n\n"
        let over = seeds > 1 ? "on the same \(examples) test images, over \(seeds) training seeds (seed s paired with seed s)"
            : "on the same \(examples) test images"
        out += "Each defense minus \(referenceLabel) \(over) after the full attack: difference in accuracy "
            + "(points) with its 95 % paired-bootstrap interval (over seeds × images), the p-value (exact McNemar on per-image "
            + "outcomes for one seed of deterministic models; the paired bootstrap's otherwise) and Holm's correction over the "
            + "\(comparisons.count) comparisons of this table (multiple comparisons); significant means Holm-adjusted p < \(Self.level).\n\n"
        out += "| defense | column | Δ (points) | 95 % interval | p | p (Holm) | verdict |\n|---|---|---:|---:|---:|---:|---|\n"
        for c in comparisons {
            let verdict = c.adjusted < Self.level
                ? (c.difference > 0 ? "more robust than \(referenceLabel)" : "less robust than \(referenceLabel)")
                : "no significant difference"
            out += String(format: "| %@ | %@ | %+.1f | %+.1f to %+.1f | %@ (%@) | %@ | %@ |\n", c.defense, c.column, 100 * c.difference,
                          100 * c.interval.low, 100 * c.interval.high, pText(c.pValue, c.test), c.test, pText(c.adjusted, c.test), verdict)
        }
        return out + "\n"
    }
}
