/// Training-time augmentation: a random crop of the image zero-padded by `padding` on every side,
/// then a horizontal flip with probability ½ — the standard CIFAR recipe (torchvision's
/// `RandomCrop(size, padding=p)` + `RandomHorizontalFlip()`). It is applied by the train stage to
/// each batch and never stored in a dataset artifact.
///
/// Seeded: image `k` of a batch draws from SplitMix64 seeded by `seed` and `k`, so the same seed
/// gives the same batch bytes on every machine, whatever the thread count.
///
///     Augmentation(padding: 4).apply(to: x, count: 64, channels: 3, height: 32, width: 32, seed: step)
public struct Augmentation: Sendable, Equatable, Hashable, Codable {
    public var padding: Int
    public var horizontalFlip: Bool

    public init(padding: Int = 4, horizontalFlip: Bool = true) {
        precondition(padding >= 0, "Augmentation: padding must be ≥ 0")
        self.padding = padding
        self.horizontalFlip = horizontalFlip
    }

    /// The draws for image `k`: crop offset in the padded image (0…2·padding each) and the flip.
    public func draws(seed: UInt64, image k: Int) -> (dy: Int, dx: Int, flip: Bool) {
        var rng = SplitMix64(seed: seed ^ (UInt64(k) &* 0xD1B5_4A32_D192_ED03))
        let span = UInt64(2 * padding + 1)
        let dy = Int(rng.next() % span), dx = Int(rng.next() % span)
        let flip = horizontalFlip && rng.next() & 1 == 1
        return (dy, dx, flip)
    }

    /// Augments `count` images of C×H×W floats at `batch`, in place.
    public func apply(to batch: UnsafeMutablePointer<Float>, count: Int, channels: Int, height: Int, width: Int, seed: UInt64) {
        let plane = height * width
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plane)
        defer { scratch.deallocate() }
        for k in 0..<count {
            let (dy, dx, flip) = draws(seed: seed, image: k)
            let oy = dy - padding, ox = dx - padding   // output (y, x) reads input (y + oy, x + ox)
            if oy == 0 && ox == 0 && !flip { continue }
            for c in 0..<channels {
                let p = batch + (k * channels + c) * plane
                scratch.update(from: p, count: plane)
                for y in 0..<height {
                    let sy = y + oy
                    let row = p + y * width
                    guard sy >= 0 && sy < height else {
                        row.update(repeating: 0, count: width)
                        continue
                    }
                    let src = scratch + sy * width
                    for x in 0..<width {
                        let sx = x + ox
                        let value = sx >= 0 && sx < width ? src[sx] : 0
                        row[flip ? width - 1 - x : x] = value
                    }
                }
            }
        }
    }
}
