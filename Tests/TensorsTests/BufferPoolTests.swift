import XCTest
@testable import Tensors

/// Freed large tensor buffers are reused by the next tensor of the same size, and a reused buffer
/// carries no values into its new tensor's meaning (every constructor writes or zeroes it).
final class BufferPoolTests: XCTestCase {
    func testAFreedLargeBufferServesTheNextOfItsSize() throws {
        try XCTSkipIf(BufferPool.capacityBytes == 0, "ATALP_BUFFER_POOL_MB=0 turns the pool off")
        let bytes = BufferPool.minimumBytes + 4096 * 3  // a size no other test uses
        let first = BufferPool.allocate(bytes: bytes)
        BufferPool.release(first, bytes: bytes)
        let second = BufferPool.allocate(bytes: bytes)
        XCTAssertEqual(first, second)
        let other = BufferPool.allocate(bytes: bytes)  // the list is empty again: a fresh buffer
        XCTAssertNotEqual(other, second)
        BufferPool.release(second, bytes: bytes)
        BufferPool.release(other, bytes: bytes)
    }

    func testReusedStorageStartsAsItsConstructorSays() {
        let count = BufferPool.minimumBytes / 4 + 1024 * 5
        do { _ = Tensor(shape: [count], repeating: 7) }  // freed into the pool
        let zeros = Tensor(shape: [count])
        XCTAssertTrue(zeros.scalars.allSatisfy { $0 == 0 })
        do { _ = Tensor(shape: [count], repeating: 7) }
        let values = (0..<count).map(Float.init)
        XCTAssertEqual(Tensor(shape: [count], values: values).scalars, values)
    }
}
