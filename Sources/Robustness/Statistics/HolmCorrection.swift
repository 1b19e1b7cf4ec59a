/// Holm's step-down correction for multiple comparisons (Holm 1979): with m p-values sorted
/// ascending, the i-th (0-based) is adjusted to max over j ≤ i of min(1, (m − j)·p₍ⱼ₎). Rejecting
/// where the adjusted value is below α controls the family-wise error rate at α, under any
/// dependence between the tests — as in statsmodels' `multipletests(method="holm")`.
/// Returns the adjusted p-values in the order given.
public func holmAdjusted(_ pValues: [Double]) -> [Double] {
    let m = pValues.count
    let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
    var adjusted = [Double](repeating: 1, count: m)
    var running = 0.0
    for (rank, index) in order.enumerated() {
        running = max(running, min(1, Double(m - rank) * pValues[index]))
        adjusted[index] = running
    }
    return adjusted
}
