import Tensors

/// A paired comparison of two defenses' robust accuracies over seeds × images: `SeedImageBootstrap`
/// of the per-seed, per-image differences (the same images for both: the comparison is paired). Both sources
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
        let diff = zip(first, second).map { a, b in zip(a, b).map { $0 - $1 } }
        let bootstrap = SeedImageBootstrap(diff, replicates: replicates, level: level, seed: seed)
        difference = bootstrap.mean
        interval = bootstrap.interval
        let below = Double(bootstrap.replicates.filter { $0 <= 0 }.count) / Double(replicates)
        let above = Double(bootstrap.replicates.filter { $0 >= 0 }.count) / Double(replicates)
        pValue = min(1, 2 * min(below, above))
        self.replicates = replicates
    }
}
