/// This rank's rows of a global batch that data-parallel ranks split between them: rows `rows` of a
/// batch of `total`. Random draws made for the batch (augmentation, PGD random starts) are drawn for
/// all `total` rows from the step's stream, as one process draws them, and the slice's rows kept; so
/// N ranks see the same random numbers as one process for every example.
public struct BatchSlice: Hashable, Sendable {
    public var rows: Range<Int>
    public var total: Int

    public init(rows: Range<Int>, total: Int) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= total, "rows \(rows) outside a batch of \(total)")
        self.rows = rows; self.total = total
    }

    /// Rank `rank` of `ranks`' contiguous share of a batch of `total` rows; the first `total mod ranks`
    /// ranks take one row more.
    public static func share(of total: Int, rank: Int, ranks: Int) -> BatchSlice {
        let base = total / ranks, extra = total % ranks
        let lower = rank * base + min(rank, extra)
        return BatchSlice(rows: lower..<lower + base + (rank < extra ? 1 : 0), total: total)
    }
}
