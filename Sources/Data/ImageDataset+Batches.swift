extension ImageDataset {
    /// Writes the images at `indices` as `Float` in [0, 1] (`v / 255`), `indices.count`×C×H×W,
    /// to `output`, which must hold `indices.count * imageSize` floats. This is how pixels reach
    /// a model; normalisation (mean, std) is the model's business.
    ///
    ///     var x = [Float](repeating: 0, count: 64 * train.imageSize)
    ///     x.withUnsafeMutableBufferPointer { train.copyBatch(Array(0..<64), into: $0.baseAddress!) }
    public func copyBatch(_ indices: [Int], into output: UnsafeMutablePointer<Float>) {
        let size = imageSize
        images.withUnsafeBufferPointer { src in
            for (k, i) in indices.enumerated() {
                precondition(i >= 0 && i < count, "copyBatch: index \(i) out of range 0..<\(count)")
                let from = src.baseAddress! + i * size, to = output + k * size
                for j in 0..<size { to[j] = Float(from[j]) / 255 }   // divided, not multiplied by 1/255: exact v/255
            }
        }
    }

    /// The images at `indices` as `Float` in [0, 1], N×C×H×W.
    public func batch(_ indices: [Int]) -> [Float] {
        [Float](unsafeUninitializedCapacity: indices.count * imageSize) { buffer, initialized in
            copyBatch(indices, into: buffer.baseAddress!)
            initialized = indices.count * imageSize
        }
    }

    /// The labels at `indices`.
    public func labels(_ indices: [Int]) -> [Int32] { indices.map { labels[$0] } }
}
