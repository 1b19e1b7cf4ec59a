import XCTest
import Robustness
import Tensors

final class AugmentationTests: XCTestCase {
    func testCropShiftsWithZeroFillAndFlipMirrors() {
        // One 1×3×3 image 1…9. With padding 1 every shift is in −1…1; whatever is drawn, each output
        // pixel is either 0 (from the padding) or an input pixel, and the multiset of non-zero values
        // is a subset of the input's.
        let x = Tensor(shape: [1, 1, 3, 3], values: (1...9).map(Float.init))
        var rng = SeededRandom(seed: 3)
        for _ in 0..<20 {
            let y = Augmentation(cropPadding: 1, horizontalFlip: true).apply(x, rng: &rng).scalars
            XCTAssertTrue(y.allSatisfy { $0 == 0 || (1...9).contains(Int($0)) })
            XCTAssertGreaterThanOrEqual(y.filter { $0 != 0 }.count, 4)  // a 1-pixel shift keeps at least 2×2
        }
        // Flip only: the rows are mirrored.
        var always = SeededRandom(seed: 0)
        var flipped: [Float] = []
        for _ in 0..<8 {
            let y = Augmentation(cropPadding: 0, horizontalFlip: true).apply(x, rng: &always).scalars
            if y != x.scalars { flipped = y; break }
        }
        XCTAssertEqual(flipped, [3, 2, 1, 6, 5, 4, 9, 8, 7])
    }

    func testSameSeedSameBatch() {
        var rng = SeededRandom(seed: 1)
        let x = Tensor.uniform(shape: [8, 3, 6, 6], using: &rng)
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let aug = Augmentation(cropPadding: 2, horizontalFlip: true)
        XCTAssertEqual(aug.apply(x, rng: &a), aug.apply(x, rng: &b))
        XCTAssertNotEqual(aug.apply(x, rng: &a), aug.apply(x, rng: &c))
        XCTAssertTrue(Augmentation().isIdentity)
        XCTAssertEqual(Augmentation().apply(x, rng: &a), x)
    }
}
