import Crypto

/// The logical-content hash that names an artifact (`ArtifactID`).
///
///     id = SHA-256( "atalp-artifact\n1\n"  then, for the root group and every group and dataset in
///                   ascending path order (paths relative to the artifact's root, root = ""):
///                     group:   "G" str(path) attrs
///                     dataset: "D" str(path) str(dtype) u64(rank) u64(dim)… SHA-256(raw LE bytes) attrs )
///     attrs  = u64(count) then, by ascending name: str(name) value
///     value  = "s" str | "i" i64 | "d" u64(bit pattern) | "S" u64(n) str… | "I" u64(n) i64… | "D" u64(n) u64…
///     str(x) = u64(UTF-8 byte count) bytes;  u64 / i64 little-endian
///
/// File bytes (layout, chunking, compression, HDF5 version) do not enter it; two files with equal
/// datasets and attributes have the same id however they were written.
struct ContentHash {
    static let header = "atalp-artifact\n1\n"

    struct Dataset {
        var dtype: HDF5DType
        var shape: [Int]
        var digest: [UInt8]
    }

    /// The content of one artifact: every object by relative path ("" is the root group).
    var groups: Set<String> = [""]
    var datasets: [String: Dataset] = [:]
    var attributes: [String: [String: HDF5Attribute]] = [:]

    var id: ArtifactID {
        var hasher = SHA256()
        var out = Encoder()
        out.raw(Array(Self.header.utf8))
        let paths = (Array(groups) + Array(datasets.keys)).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for path in paths {
            if let dataset = datasets[path] {
                out.raw([UInt8(ascii: "D")])
                out.string(path)
                out.string(dataset.dtype.rawValue)
                out.u64(UInt64(dataset.shape.count))
                for dim in dataset.shape { out.u64(UInt64(dim)) }
                out.raw(dataset.digest)
            } else {
                out.raw([UInt8(ascii: "G")])
                out.string(path)
            }
            let attrs = attributes[path] ?? [:]
            out.u64(UInt64(attrs.count))
            for name in attrs.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                out.string(name)
                out.attribute(attrs[name]!)
            }
            hasher.update(data: out.bytes)
            out.bytes.removeAll(keepingCapacity: true)
        }
        return ArtifactID(digest: Array(hasher.finalize()))
    }

    static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// Recomputes the content of the artifact rooted at `root` in a file, reading every dataset.
    static func read(from reader: HDF5Reader, root: String = "/") throws -> ContentHash {
        let prefix = root == "/" ? "" : root.hasSuffix("/") ? root : root + "/"
        var content = ContentHash()
        content.attributes[""] = try attributes(of: root, reader)
        for object in try reader.objects() where prefix.isEmpty || object.path.hasPrefix(prefix) {
            let relative = String(object.path.dropFirst(prefix.count))
            if object.isDataset {
                let raw = try reader.readRaw(object.path)
                let digest = raw.bytes.withUnsafeBytes { Self.digest($0) }
                content.datasets[relative] = Dataset(dtype: raw.dtype, shape: raw.shape, digest: digest)
            } else {
                content.groups.insert(relative)
            }
            content.attributes[relative] = try attributes(of: object.path, reader)
        }
        return content
    }

    private static func attributes(of path: String, _ reader: HDF5Reader) throws -> [String: HDF5Attribute] {
        var out: [String: HDF5Attribute] = [:]
        for name in try reader.attributeNames(on: path) { out[name] = try reader.attribute(name, on: path) }
        return out.isEmpty ? [:] : out
    }

    struct Encoder {
        var bytes: [UInt8] = []
        mutating func raw(_ b: [UInt8]) { bytes += b }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func i64(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func string(_ s: String) {
            u64(UInt64(s.utf8.count))
            bytes += s.utf8
        }
        mutating func attribute(_ value: HDF5Attribute) {
            switch value {
            case .string(let s): raw([UInt8(ascii: "s")]); string(s)
            case .int(let v): raw([UInt8(ascii: "i")]); i64(v)
            case .double(let v): raw([UInt8(ascii: "d")]); u64(v.bitPattern)
            case .strings(let s): raw([UInt8(ascii: "S")]); u64(UInt64(s.count)); s.forEach { string($0) }
            case .ints(let v): raw([UInt8(ascii: "I")]); u64(UInt64(v.count)); v.forEach { i64($0) }
            case .doubles(let v): raw([UInt8(ascii: "D")]); u64(UInt64(v.count)); v.forEach { u64($0.bitPattern) }
            }
        }
    }
}
