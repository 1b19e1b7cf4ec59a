/// The id of an artifact: the SHA-256 of its logical content (every dataset's path, dtype, shape and
/// bytes, every group, and every attribute — metadata and provenance included), as 64 lowercase hex
/// digits. It does not depend on how HDF5 lays the file out (chunking, compression, library version),
/// so an artifact re-encoded by another tool keeps its id; see `ContentHash` for the exact encoding.
public struct ArtifactID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let hex: String

    /// Accepts exactly 64 lowercase hex digits; anything else (a path, "../x", uppercase) is nil.
    public init?(_ hex: String) {
        guard Self.isValidHex(hex) else { return nil }
        self.hex = hex
    }

    init(digest: [UInt8]) {
        hex = digest.hexString
    }

    public var description: String { hex }

    /// The first 12 digits, for listings.
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: ArtifactID, b: ArtifactID) -> Bool { a.hex < b.hex }

    static func isValidHex(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
