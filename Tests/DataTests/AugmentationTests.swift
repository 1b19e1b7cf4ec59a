import Testing
@testable import Data

@Suite struct AugmentationTests {
    func sampleBatch(count: Int, channels: Int = 2, size: Int = 6) -> [Float] {
        (0..<(count * channels * size * size)).map { Float($0 % 97) + 1 }   // no zeros, so padding shows
    }

    @Test func isDeterministicAndSeedDependent() {
        var a = sampleBatch(count: 8), b = a, c = a
        let aug = Augmentation(padding: 2)
        a.withUnsafeMutableBufferPointer { aug.apply(to: $0.baseAddress!, count: 8, channels: 2, height: 6, width: 6, seed: 42) }
        b.withUnsafeMutableBufferPointer { aug.apply(to: $0.baseAddress!, count: 8, channels: 2, height: 6, width: 6, seed: 42) }
        c.withUnsafeMutableBufferPointer { aug.apply(to: $0.baseAddress!, count: 8, channels: 2, height: 6, width: 6, seed: 43) }
        #expect(a == b)
        #expect(a != c)
    }

    /// Each output image is its input shifted by the drawn offset (zeros shifted in), mirrored
    /// when the flip was drawn. Checked pixel by pixel against that definition.
    @Test func cropsWithZeroPaddingAndFlips() {
        let count = 32, channels = 2, size = 6, plane = 36
        let original = sampleBatch(count: count)
        var out = original
        let aug = Augmentation(padding: 2)
        out.withUnsafeMutableBufferPointer { aug.apply(to: $0.baseAddress!, count: count, channels: channels, height: size, width: size, seed: 7) }
        var flips = 0, shifts = 0
        for k in 0..<count {
            let (dy, dx, flip) = aug.draws(seed: 7, image: k)
            flips += flip ? 1 : 0
            shifts += (dy != 2 || dx != 2) ? 1 : 0
            for c in 0..<channels { for y in 0..<size { for x in 0..<size {
                let sx0 = flip ? size - 1 - x : x     // position before the flip
                let sy = y + dy - 2, sx = sx0 + dx - 2
                let expected: Float = sy >= 0 && sy < size && sx >= 0 && sx < size ? original[(k * channels + c) * plane + sy * size + sx] : 0
                #expect(out[(k * channels + c) * plane + y * size + x] == expected)
            } } }
        }
        #expect(flips > 4 && flips < 28, "\(flips) flips of 32")
        #expect(shifts > 20)
    }

    @Test func zeroPaddingWithoutFlipIsIdentity() {
        var batch = sampleBatch(count: 4)
        let original = batch
        batch.withUnsafeMutableBufferPointer {
            Augmentation(padding: 0, horizontalFlip: false).apply(to: $0.baseAddress!, count: 4, channels: 2, height: 6, width: 6, seed: 1)
        }
        #expect(batch == original)
    }

    @Test func batchesScaleToUnitInterval() {
        let d = ImageDataset(images: [0, 255, 51, 102, 7, 8, 9, 10], labels: [1, 0], count: 2, channels: 1, height: 2, width: 2,
                             classNames: ["a", "b"], fileNames: ["x", "y"])
        #expect(d.batch([0]) == [0, 1, 0.2, 0.4])
        #expect(d.batch([1, 0]).count == 8 && d.labels([1, 0]) == [0, 1])
    }
}
