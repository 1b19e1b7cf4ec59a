import Foundation

/// The exact McNemar test of two classifiers' (or two defenses') outcomes on the same examples
/// (McNemar 1947): only the discordant examples count — b where the first is right and the second
/// wrong, c the reverse — and under "no difference" b ~ Binomial(b + c, ½). The two-sided p-value
/// is min(1, 2·P(X ≤ min(b, c))), as SciPy's `binomtest(b, b + c, 0.5).pvalue` for this symmetric case.
public struct McNemarTest: Codable, Hashable, Sendable {
    /// Examples the first gets right and the second wrong.
    public var firstOnly: Int
    /// Examples the second gets right and the first wrong.
    public var secondOnly: Int
    public var pValue: Double

    public init(firstOnly b: Int, secondOnly c: Int) {
        precondition(b >= 0 && c >= 0, "McNemar: negative counts")
        firstOnly = b; secondOnly = c
        let n = b + c
        guard n > 0 else { pValue = 1; return }
        // P(X ≤ m) for X ~ Binomial(n, ½), summed in log space (n may be thousands).
        let m = min(b, c)
        var tail = 0.0
        for i in 0...m { tail += exp(logChoose(n, i) - Double(n) * log(2)) }
        pValue = min(1, 2 * tail)
    }

    /// From per-example outcomes of the two on the same examples (true: classified correctly).
    public init(first: [Bool], second: [Bool]) {
        precondition(first.count == second.count, "McNemar: \(first.count) and \(second.count) outcomes")
        self.init(firstOnly: zip(first, second).filter { $0 && !$1 }.count, secondOnly: zip(first, second).filter { !$0 && $1 }.count)
    }
}

/// log C(n, k) through the log-gamma function.
func logChoose(_ n: Int, _ k: Int) -> Double {
    lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
}
