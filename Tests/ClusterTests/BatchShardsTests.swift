import XCTest
import Cluster

/// Sharded stages split whole batches, contiguously, over the ranks: every batch exactly once, in
/// order, balanced to within one batch.
final class BatchShardsTests: XCTestCase {
    func testEveryBatchOnceInOrder() {
        for (count, batch, ranks) in [(40, 16, 2), (2000, 256, 3), (10, 4, 8), (0, 8, 2), (1, 256, 4)] {
            let shards = BatchShards(count: count, batchSize: batch)
            let blocks = (0..<ranks).map { shards.batches(rank: $0, of: ranks) }
            XCTAssertEqual(blocks.flatMap { Array($0) }, Array(0..<shards.batchCount), "\(count)/\(batch) over \(ranks)")
            XCTAssertLessThanOrEqual(blocks.map(\.count).max()! - blocks.map(\.count).min()!, 1)
            XCTAssertEqual(blocks.map { shards.examples(ofBatches: $0).count }.reduce(0, +), count)
        }
        XCTAssertEqual(BatchShards(count: 40, batchSize: 16).examples(ofBatch: 2), 32..<40)
    }
}
