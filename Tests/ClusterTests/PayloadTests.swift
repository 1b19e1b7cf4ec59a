import XCTest
import Cluster
import Robustness

/// What ranks send one another reads back as written; batch slices split a batch exactly.
final class PayloadTests: XCTestCase {
    func testRoundTrip() {
        var w = Payload()
        w.append(-7); w.append(floats: [1.5, -0, .infinity, 3e-38]); w.append(string: "ε=0.25 ✓"); w.append(floats: [])
        var r = Payload(bytes: w.bytes)
        XCTAssertEqual(r.int(), -7)
        XCTAssertEqual(r.floats().map(\.bitPattern), [1.5, -0, .infinity, 3e-38].map { Float($0).bitPattern })
        XCTAssertEqual(r.string(), "ε=0.25 ✓")
        XCTAssertEqual(r.floats(), [])
        XCTAssertTrue(r.isAtEnd)
    }

    func testBatchSlicesPartitionTheBatch() {
        for (total, ranks) in [(32, 2), (33, 4), (5, 8), (128, 3)] {
            let slices = (0..<ranks).map { BatchSlice.share(of: total, rank: $0, ranks: ranks) }
            XCTAssertEqual(slices.first?.rows.lowerBound, 0)
            XCTAssertEqual(slices.last?.rows.upperBound, total)
            for (a, b) in zip(slices, slices.dropFirst()) { XCTAssertEqual(a.rows.upperBound, b.rows.lowerBound) }
            XCTAssertLessThanOrEqual(slices.map(\.rows.count).max()! - slices.map(\.rows.count).min()!, 1)
        }
    }
}
