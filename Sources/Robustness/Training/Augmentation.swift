import Tensors

/// Training-time augmentation of a batch, seeded: a random crop of the zero-padded image (shift by up
/// to `cropPadding` pixels each way) and an optional horizontal flip with probability 1/2.
public struct Augmentation: Codable, Hashable, Sendable {
    public var cropPadding: Int
    public var horizontalFlip: Bool

    public init(cropPadding: Int = 0, horizontalFlip: Bool = false) {
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
    }

    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip }

    public func apply(_ batch: Tensor, rng: inout SeededRandom) -> Tensor {
        guard !isIdentity else { return batch }
        let (n, c, h, w) = batch.nchw
        let pad = cropPadding
        var draws: [(dy: Int, dx: Int, flip: Bool)] = []
        for _ in 0..<n {
            let dy = pad > 0 ? Int(rng.next() % UInt64(2 * pad + 1)) - pad : 0
            let dx = pad > 0 ? Int(rng.next() % UInt64(2 * pad + 1)) - pad : 0
            draws.append((dy, dx, horizontalFlip && rng.next() & 1 == 1))
        }
        return batch.withUnsafeBufferPointer { src in
            Tensor(shape: batch.shape) { dst in
                for i in 0..<n {
                    let (dy, dx, flip) = draws[i]
                    for ch in 0..<c {
                        let plane = (i * c + ch) * h * w
                        for y in 0..<h {
                            let sy = y + dy
                            for x in 0..<w {
                                let sx0 = x + dx
                                let sx = flip ? w - 1 - sx0 : sx0
                                dst[plane + y * w + x] = sy >= 0 && sy < h && sx0 >= 0 && sx0 < w ? src[plane + sy * w + sx] : 0
                            }
                        }
                    }
                }
            }
        }
    }
}
