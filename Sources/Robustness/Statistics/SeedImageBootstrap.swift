import Tensors

/// The bootstrap distribution of a mean over seeds × images (Efron & Tibshirani 1993, two-stage
/// resampling as in Davison & Hinkley 1997, §3.8): each replicate draws seeds with replacement and,
/// for each drawn seed, images with replacement, and takes the mean of the drawn values. Both sources
/// of variation a rerun brings — the training seed and the test sample — are in its spread.
///
/// With one seed it is the ordinary bootstrap over images. With few seeds (3) the seed stage sees only
/// the spread among those seeds, so the interval is a lower bound on the between-seed uncertainty;
/// the report shows the seeds' standard deviation and range beside it for that reason.
///
/// - `mean`: mean over seeds and images of `values[s][i]`.
/// - `interval`: the percentile interval of the replicates at `level`.
/// - `replicates`: the sorted replicate means (for tests of "no difference").
/// Seeded: the same values and seed give the same replicates.
public struct SeedImageBootstrap: Sendable {
    public var mean: Double
    public var interval: ConfidenceInterval
    public var replicates: [Double]

    /// `values[s][i]`: the value (an outcome in [0, 1], or a difference of two) of seed s on image i;
    /// every seed has the same images.
    public init(_ values: [[Double]], replicates count: Int = 2000, level: Double = 0.95, seed: UInt64 = 0) {
        precondition(!values.isEmpty, "bootstrap: at least one seed")
        let n = values[0].count
        precondition(n > 0 && values.allSatisfy { $0.count == n }, "bootstrap: the same images for every seed")
        precondition(count >= 1, "bootstrap: at least one replicate")
        let seeds = values.count
        mean = values.map { $0.reduce(0, +) }.reduce(0, +) / Double(seeds * n)
        var rng = SeededRandom(seed: seed)
        var out: [Double] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            var total = 0.0
            for _ in 0..<seeds {
                let row = values[Int(rng.next() % UInt64(seeds))]
                for _ in 0..<n { total += row[Int(rng.next() % UInt64(n))] }
            }
            out.append(total / Double(seeds * n))
        }
        out.sort()
        replicates = out
        func quantile(_ q: Double) -> Double { out[min(out.count - 1, max(0, Int((q * Double(out.count)).rounded(.down))))] }
        interval = ConfidenceInterval(low: quantile((1 - level) / 2), high: quantile((1 + level) / 2), level: level)
    }
}
