import Foundation

/// How a sharded computation (attack generation, evaluation, analysis; `atalp evaluate`) splits its
/// examples over the ranks of a job.
///
/// The unit is the stage's batch (`batch_size` is in the stage's key): batch b holds examples
/// b·batchSize ..< (b+1)·batchSize, draws its random numbers from a stream keyed by (seed, b) — a
/// function of the example index — and is computed exactly as one process computes it, whatever N.
/// Rank r takes the contiguous batches `batches(rank:)`; the leader gathers every batch's result
/// and combines them in batch order, so the artifact is the same bytes for any number of ranks.
/// (Sharding single examples would let each rank form its own batches, and kernels that pick their
/// algorithm by batch size would then round differently.) Scaling stops at one batch per rank: a
/// 2 000-image attack in batches of 256 keeps at most 8 ranks busy; a smaller `batch_size` spreads
/// further.
public struct BatchShards: Sendable {
    /// Examples in the stage.
    public let count: Int
    public let batchSize: Int

    public init(count: Int, batchSize: Int) {
        precondition(batchSize >= 1, "batch size must be at least 1")
        self.count = count; self.batchSize = batchSize
    }

    public var batchCount: Int { (count + batchSize - 1) / batchSize }

    /// Rank `rank` of `ranks`' batches: a contiguous block, the first `batchCount mod ranks` ranks
    /// taking one more.
    public func batches(rank: Int, of ranks: Int) -> Range<Int> {
        let base = batchCount / ranks, extra = batchCount % ranks
        let lower = rank * base + min(rank, extra)
        return lower..<lower + base + (rank < extra ? 1 : 0)
    }

    /// The examples of batch `b`.
    public func examples(ofBatch b: Int) -> Range<Int> { b * batchSize..<min((b + 1) * batchSize, count) }

    /// The examples of a block of batches.
    public func examples(ofBatches r: Range<Int>) -> Range<Int> {
        r.isEmpty ? 0..<0 : examples(ofBatch: r.lowerBound).lowerBound..<examples(ofBatch: r.upperBound - 1).upperBound
    }
}

extension Communicator {
    /// Runs `compute` for this rank's batches of `shards`, and returns, on the leader, every batch's
    /// result in batch order (`encode`/`decode` carry them between ranks); nil on the other ranks.
    /// On one process: `compute` over every batch, nothing encoded.
    public func gatherBatches<T>(_ shards: BatchShards, compute: (Int) throws -> T, encode: (T, inout Payload) -> Void,
                          decode: (inout Payload) throws -> T) rethrows -> [T]? {
        let mine = shards.batches(rank: rank, of: size)
        let results = try mine.map(compute)
        guard isDistributed else { return results }
        var payload = Payload()
        for r in results { encode(r, &payload) }
        guard let all = RankTimeline.span("gather", { gather(payload.bytes) }) else { return nil }
        var gathered: [T] = []
        for (source, bytes) in all.enumerated() {
            var p = Payload(bytes: bytes)
            for _ in shards.batches(rank: source, of: size) { gathered.append(try decode(&p)) }
        }
        return gathered
    }
}
