/// How a dataset is laid out on disk.
///
/// `.none` (the default) stores it contiguously: the fastest to write and read, and what float32
/// weights want (they barely compress: ~7% with shuffle+deflate). `.deflate(level:)` chunks the
/// dataset (about 1 MiB per chunk, whole trailing dimensions) and applies the byte-shuffle and
/// deflate filters; it pays for sparse or low-entropy data, such as image sets with black borders
/// (Fashion-MNIST shrinks to about a third) at the cost of write and read time.
/// Readers need nothing special: HDF5 decompresses transparently.
public enum HDF5Compression: Equatable, Sendable {
    case none
    case deflate(level: Int)

    /// Chunk dimensions for a dataset of `shape` with elements of `elementSize` bytes: whole trailing
    /// dimensions, and as many leading indices as fit in about 1 MiB.
    static func chunk(for shape: [Int], elementSize: Int) -> [Int] {
        guard !shape.isEmpty else { return [] }
        let target = 1 << 20
        var chunk = shape.map { max($0, 1) }
        // Shrink leading dimensions first until the chunk fits the target.
        for axis in 0..<chunk.count {
            let rest = chunk[(axis + 1)...].reduce(elementSize, *)
            if rest * chunk[axis] <= target { break }
            chunk[axis] = max(1, target / rest)
            if rest <= target { break }
        }
        return chunk
    }
}
