import XCTest
import Foundation
import Tensors

final class TensorTests: XCTestCase {
    func testValueSemanticsCopyOnWrite() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        var b = a
        XCTAssertTrue(b.sharesStorage(with: a))
        b[0, 1] = 9
        XCTAssertFalse(b.sharesStorage(with: a))
        XCTAssertEqual(a.scalars, [1, 2, 3, 4])
        XCTAssertEqual(b.scalars, [1, 9, 3, 4])
    }

    func testSeededRandomIsReproducibleAndWellDistributed() {
        var r1 = SeededRandom(seed: 42), r2 = SeededRandom(seed: 42), r3 = SeededRandom(seed: 43)
        let a = Tensor.normal(shape: [10_000], using: &r1), b = Tensor.normal(shape: [10_000], using: &r2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, Tensor.normal(shape: [10_000], using: &r3))
        XCTAssertEqual(a.mean(), 0, accuracy: 0.03)
        XCTAssertEqual((a * a).mean(), 1, accuracy: 0.05)
        let u = Tensor.uniform(shape: [10_000], in: 2...4, using: &r1)
        XCTAssertGreaterThanOrEqual(u.scalars.min()!, 2)
        XCTAssertLessThan(u.scalars.max()!, 4)
        XCTAssertEqual(u.mean(), 3, accuracy: 0.03)
        let rad = Tensor.rademacher(shape: [10_000], using: &r1)
        XCTAssertTrue(rad.scalars.allSatisfy { $0 == 1 || $0 == -1 })
        XCTAssertEqual(rad.mean(), 0, accuracy: 0.05)
        let p = r1.permutation(100)
        XCTAssertEqual(p.sorted(), Array(0..<100))
        XCTAssertNotEqual(p, Array(0..<100))
    }

    func testReductionsSoftmaxAndPooling() {
        let t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.sum(), 21)
        XCTAssertEqual(t.sumPerRow().scalars, [6, 15])
        XCTAssertEqual(t.sumOverRows().scalars, [5, 7, 9])
        XCTAssertEqual(t.argmaxPerRow(), [2, 2])
        let s = t.softmaxRows().scalars
        XCTAssertEqual(s[0] + s[1] + s[2], 1, accuracy: 1e-6)
        XCTAssertEqual(s[2] / s[1], expf(1), accuracy: 1e-5)
        // 2×2 max pool of [[1,2],[3,4]] → 4; average → 2.5.
        let x = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        XCTAssertEqual(Tensor.backend.maxPool2d(x, geometry: Conv2DGeometry(kernel: 2, stride: 2)).output.scalars, [4])
        XCTAssertEqual(Tensor.backend.avgPool2d(x, geometry: Conv2DGeometry(kernel: 2, stride: 2)).scalars, [2.5])
        XCTAssertEqual(x.meanOverSpatial().scalars, [2.5])
    }

    func testMatmulMatchesHandComputedProduct() {
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), b = Tensor(shape: [3, 1], values: [1, 0, -1])
        XCTAssertEqual(Tensor.backend.matmul(a, transposed: false, b, transposed: false).scalars, [-2, -2])
        XCTAssertEqual(Tensor.backend.matmul(a, transposed: true, a, transposed: false).shape, [3, 3])
    }
}
