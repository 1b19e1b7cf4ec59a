import Tensors

/// A paired comparison of two defenses' robust accuracies over seeds × images, by the bootstrap
/// (Efron & Tibshirani 1993): each replicate draws seeds with replacement and, independently,
/// images with replacement, and takes the mean difference of the two defenses' per-image outcomes
/// on the drawn seeds and images (the same images for both: the comparison is paired). Both sources
/// of variation a rerun would bring — the training seed and the test sample — are in the interval.
///
/// - `difference`: mean over seeds and images of first − second (accuracy points as a fraction).
/// - `interval`: the percentile interval of the replicates at `level`.
/// - `pValue`: two-sided, 2·min(share of replicates ≤ 0, share ≥ 0), capped at 1 — the percentile
///   bootstrap test of "no difference".
/// Seeded: the same outcomes and seed give the same interval and p-value.
public struct PairedBootstrap: Codable, Hashable, Sendable {
    public var difference: Double
    public var interval: ConfidenceInterval
    public var pValue: Double
    public var replicates: Int

    /// `first[s][i]`, `second[s][i]`: outcome (1 robust/correct, 0 not; or a share of draws) of seed s
    /// on image i; seeds pair by position (seed s of each defense), images by index.
    public init(first: [[Double]], second: [[Double]], replicates: Int = 2000, level: Double = 0.95, seed: UInt64 = 0) {
        precondition(!first.isEmpty && first.count == second.count, "paired bootstrap: the same number of seeds on both sides")
        let n = first[0].count
        precondition(n > 0 && (first + second).allSatisfy { $0.count == n }, "paired bootstrap: the same images for every seed")
        precondition(replicates >= 1, "paired bootstrap: at least one replicate")
        let seeds = first.count
        let diff = (0..<seeds).map { s in (0..<n).map { first[s][$0] - second[s][$0] } }
        difference = diff.map { $0.reduce(0, +) }.reduce(0, +) / Double(seeds * n)
        var rng = SeededRandom(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(replicates)
        for _ in 0..<replicates {
            var total = 0.0
            for _ in 0..<seeds {
                let row = diff[Int(rng.next() % UInt64(seeds))]
                for _ in 0..<n { total += row[Int(rng.next() % UInt64(n))] }
            }
            values.append(total / Double(seeds * n))
        }
        values.sort()
        func quantile(_ q: Double) -> Double { values[min(values.count - 1, max(0, Int((q * Double(values.count)).rounded(.down))))] }
        interval = ConfidenceInterval(low: quantile((1 - level) / 2), high: quantile((1 + level) / 2), level: level)
        let below = Double(values.filter { $0 <= 0 }.count) / Double(replicates)
        let above = Double(values.filter { $0 >= 0 }.count) / Double(replicates)
        pValue = min(1, 2 * min(below, above))
        self.replicates = replicates
    }
}
