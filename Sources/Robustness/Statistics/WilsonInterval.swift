import Foundation

/// An interval estimate of a proportion (an accuracy), in [0, 1].
public struct ConfidenceInterval: Codable, Hashable, Sendable {
    public var low: Double
    public var high: Double
    /// The confidence level, e.g. 0.95.
    public var level: Double

    public init(low: Double, high: Double, level: Double) {
        self.low = low; self.high = high; self.level = level
    }

    /// The Wilson score interval for `successes` of `trials` (Wilson 1927; Brown, Cai & DasGupta
    /// 2001 recommend it over the normal interval, which collapses to a point at 0 and n successes):
    ///
    ///     (p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n),   z the (1 + level)/2 normal quantile
    ///
    /// Agrees with SciPy's `binomtest(k, n).proportion_ci(method="wilson")`. Zero trials give [0, 1].
    public static func wilson(successes k: Int, trials n: Int, level: Double = 0.95) -> ConfidenceInterval {
        precondition(k >= 0 && k <= n, "wilson: need 0 ≤ successes ≤ trials")
        return wilson(proportion: n == 0 ? 0 : Double(k) / Double(n), trials: n, level: level)
    }

    /// The Wilson interval for an observed proportion of `trials` (k = proportion·trials, which need
    /// not be whole: a randomised model's accuracy averaged over draws).
    public static func wilson(proportion: Double, trials n: Int, level: Double = 0.95) -> ConfidenceInterval {
        precondition(proportion >= 0 && proportion <= 1 && level > 0 && level < 1, "wilson: proportion in [0, 1], level in (0, 1)")
        guard n > 0 else { return ConfidenceInterval(low: 0, high: 1, level: level) }
        let z = normalQuantile((1 + level) / 2), nn = Double(n), p = proportion
        let centre = p + z * z / (2 * nn), spread = z * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()
        let denominator = 1 + z * z / nn
        return ConfidenceInterval(low: p == 0 ? 0 : max(0, (centre - spread) / denominator),
                                  high: p == 1 ? 1 : min(1, (centre + spread) / denominator), level: level)
    }
}

/// The standard normal quantile Φ⁻¹(p), p ∈ (0, 1): bisection of [−40, 40] on Φ(x) = erfc(−x/√2)/2
/// until the bracket is under 1e-15; exact enough for intervals and simple enough to check.
public func normalQuantile(_ p: Double) -> Double {
    precondition(p > 0 && p < 1, "normalQuantile needs p in (0, 1)")
    var low = -40.0, high = 40.0
    for _ in 0..<200 {
        let mid = (low + high) / 2
        if erfc(-mid / 2.0.squareRoot()) / 2 < p { low = mid } else { high = mid }
        if high - low < 1e-15 { break }
    }
    return (low + high) / 2
}
