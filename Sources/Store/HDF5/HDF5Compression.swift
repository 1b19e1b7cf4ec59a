/// How a dataset is laid out on disk.
///
/// `.none` (the default) stores it contiguously: the fastest to write and read. `.deflate(level:)`
/// chunks the dataset (about 1 MiB per chunk, whole trailing dimensions) and applies the byte-shuffle
/// and deflate filters. Measured with benchmarks/store/compression_probe.py: Fashion-MNIST's training
/// images shrink from 47.0 to 27.3 MB at level 1, but writing takes ~15× and reading ~3-5× longer;
/// ResNet-18 weights shrink only 14%. So the store writes contiguous datasets, and deflate is for
/// callers that archive or ship sparse data.
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
