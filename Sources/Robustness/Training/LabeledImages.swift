import Tensors

/// Images in [0, 1] (N×C×H×W) with their class labels: what training and attacks consume.
public struct LabeledImages: Sendable {
    public var images: Tensor
    public var labels: [Int]

    public init(images: Tensor, labels: [Int]) {
        precondition(images.rank == 4 && images.shape[0] == labels.count, "\(labels.count) labels for images of shape \(images.shape)")
        self.images = images
        self.labels = labels
    }

    /// From 8-bit pixels (N×C×H×W, as stored in dataset artifacts), scaled to [0, 1] by 1/255.
    public init(pixels: [UInt8], shape: [Int], labels: [Int]) {
        let t = pixels.withUnsafeBufferPointer { src in
            Tensor(shape: shape) { dst in for i in 0..<dst.count { dst[i] = Float(src[i]) * (1 / 255) } }
        }
        self.init(images: t, labels: labels)
    }

    public var count: Int { labels.count }

    public func subset(_ indices: [Int]) -> LabeledImages {
        LabeledImages(images: images.gatherRows(indices), labels: indices.map { labels[$0] })
    }

    public func slice(_ range: Range<Int>) -> LabeledImages {
        LabeledImages(images: images.rows(range), labels: Array(labels[range]))
    }

    /// A seeded split into a held-out slice of `count` examples and the rest.
    public func holdingOut(_ count: Int, seed: UInt64) -> (rest: LabeledImages, heldOut: LabeledImages) {
        precondition(count >= 0 && count < self.count, "cannot hold out \(count) of \(self.count) examples")
        var rng = SeededRandom.derived(seed: seed, stream: 0x5EED_0F_5711)
        let order = rng.permutation(self.count)
        return (subset(Array(order[count...]).sorted()), subset(Array(order[..<count]).sorted()))
    }
}
