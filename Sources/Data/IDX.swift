import Foundation

/// The IDX format of MNIST and Fashion-MNIST: a big-endian header — two zero bytes, an element-type
/// byte (0x08 for unsigned bytes), a dimension count — then one big-endian `UInt32` per dimension,
/// then the elements in row-major order. Files may be gzipped (`.gz`), as Debian ships them.
///
///     let idx = try IDXFile(contentsOf: "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
///     idx.shape          // [10000]
///     idx.bytes[0]       // 9 (ankle boot)
///
/// Only unsigned-byte files are supported; other element types throw `.unsupported`.
public struct IDXFile: Sendable {
    /// The dimensions, outermost first: `[60000, 28, 28]` for the training images.
    public var shape: [Int]
    /// The elements, row-major.
    public var bytes: [UInt8]

    /// Reads and checks `path`: magic, element type, and that the data length matches the header
    /// exactly (a truncated file and trailing bytes are both errors naming the file).
    public init(contentsOf path: String) throws {
        let raw = try FileReading.readPossiblyGzipped(path)
        try self.init(bytes: raw, path: path)
    }

    /// Parses IDX bytes already in memory; `path` is used only in error messages.
    public init(bytes raw: [UInt8], path: String) throws {
        guard raw.count >= 4 else {
            throw DataError(.corrupt, path: path, "truncated IDX file: \(raw.count) bytes, the header needs at least 4")
        }
        guard raw[0] == 0, raw[1] == 0 else {
            throw DataError(.corrupt, path: path, String(
                format: "not an IDX file: bad magic %02x %02x %02x %02x (expected 00 00 08 NN)",
                raw[0], raw[1], raw[2], raw[3]))
        }
        guard raw[2] == 0x08 else {
            let known: [UInt8: String] = [0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"]
            let name = known[raw[2]].map { "element type \($0)" } ?? String(format: "unknown element type 0x%02x", raw[2])
            throw DataError(raw[2] == 0x09 || (0x0B...0x0E).contains(raw[2]) ? .unsupported : .corrupt, path: path,
                            "IDX \(name); only unsigned bytes (0x08) are supported")
        }
        let rank = Int(raw[3])
        guard rank >= 1 else { throw DataError(.corrupt, path: path, "IDX header has 0 dimensions") }
        let headerSize = 4 + 4 * rank
        guard raw.count >= headerSize else {
            throw DataError(.corrupt, path: path, "truncated IDX file: \(raw.count) bytes, the \(rank)-dimensional header needs \(headerSize)")
        }
        var shape: [Int] = []
        var elements = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let n = Int(raw[o]) << 24 | Int(raw[o + 1]) << 16 | Int(raw[o + 2]) << 8 | Int(raw[o + 3])
            shape.append(n)
            elements = elements.multipliedReportingOverflow(by: n).partialValue
        }
        let available = raw.count - headerSize
        guard available >= elements else {
            throw DataError(.corrupt, path: path,
                            "truncated IDX file: header promises \(shape.map(String.init).joined(separator: "×")) = \(elements) bytes of data, found \(available)")
        }
        guard available == elements else {
            throw DataError(.corrupt, path: path,
                            "IDX file has \(available - elements) bytes after the \(elements) the header promises")
        }
        self.shape = shape
        self.bytes = Array(raw[headerSize...])
    }
}
