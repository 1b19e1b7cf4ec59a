import XCTest
@testable import Tensors

/// Freed large tensor buffers are reused by the next tensor of the same size, up to the pool's
/// capacity, and a reused buffer carries no values into its new tensor (every constructor writes or
/// zeroes it). Pools of their own, so that what other tests left in the shared one does not matter.
final class BufferPoolTests: XCTestCase {
    func testAFreedLargeBufferServesTheNextOfItsSize() {
        let pool = BufferPool(capacityBytes: 8 << 20)
        let bytes = BufferPool.minimumBytes
        let first = pool.allocate(bytes: bytes)
        pool.release(first, bytes: bytes)
        XCTAssertEqual(pool.held, bytes)
        let second = pool.allocate(bytes: bytes)
        XCTAssertEqual(first, second)
        XCTAssertEqual(pool.held, 0)
        let other = pool.allocate(bytes: bytes)  // the list is empty again: a fresh buffer
        XCTAssertNotEqual(other, second)
        pool.release(second, bytes: bytes)
        pool.release(other, bytes: bytes)
        XCTAssertEqual(pool.held, 2 * bytes)
    }

    func testThePoolKeepsNoMoreThanItsCapacityAndNoSmallBuffers() {
        let bytes = BufferPool.minimumBytes
        let pool = BufferPool(capacityBytes: 2 * bytes)
        let buffers = (0..<3).map { _ in pool.allocate(bytes: bytes) }
        buffers.forEach { pool.release($0, bytes: bytes) }
        XCTAssertEqual(pool.held, 2 * bytes, "the third was freed")
        pool.release(pool.allocate(bytes: 1024), bytes: 1024)
        XCTAssertEqual(pool.held, 2 * bytes, "small buffers go back to malloc")
        XCTAssertEqual(BufferPool(capacityBytes: 0).held, 0)
    }

    func testReusedStorageStartsAsItsConstructorSays() {
        let count = BufferPool.minimumBytes / 4 + 1024 * 5
        do { _ = Tensor(shape: [count], repeating: 7) }  // freed into the shared pool
        let zeros = Tensor(shape: [count])
        XCTAssertTrue(zeros.scalars.allSatisfy { $0 == 0 })
        do { _ = Tensor(shape: [count], repeating: 7) }
        let values = (0..<count).map(Float.init)
        XCTAssertEqual(Tensor(shape: [count], values: values).scalars, values)
    }
}
