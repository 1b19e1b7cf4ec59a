/// A flat byte encoding for what ranks send one another: little-endian integers and floats, length-
/// prefixed byte strings. Written and read in the same order; nothing here is stored on disk.
///
///     var w = Payload(); w.append(3); w.append(floats: [1, 2])
///     var r = Payload(bytes: w.bytes); let n = r.int(); let f = r.floats()
public struct Payload: Sendable {
    public private(set) var bytes: [UInt8]
    private var offset = 0

    public init(bytes: [UInt8] = []) { self.bytes = bytes }

    public mutating func append(_ value: Int) {
        withUnsafeBytes(of: Int64(value).littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(floats: [Float]) {
        append(floats.count)
        floats.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    public mutating func append(floats buffer: UnsafeBufferPointer<Float>) {
        append(buffer.count)
        bytes.append(contentsOf: UnsafeRawBufferPointer(buffer))
    }

    public mutating func append(string: String) {
        let utf8 = Array(string.utf8)
        append(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    public var isAtEnd: Bool { offset >= bytes.count }

    public mutating func int() -> Int {
        precondition(offset + 8 <= bytes.count, "payload ends before an integer")
        var v: Int64 = 0
        withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: bytes[offset..<offset + 8]) }
        offset += 8
        return Int(Int64(littleEndian: v))
    }

    public mutating func floats() -> [Float] {
        let n = int()
        precondition(n >= 0 && offset + 4 * n <= bytes.count, "payload ends inside \(n) floats")
        let values = [Float](unsafeUninitializedCapacity: n) { out, count in
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + 4 * n]))
            }
            count = n
        }
        offset += 4 * n
        return values
    }

    public mutating func string() -> String {
        let n = int()
        precondition(n >= 0 && offset + n <= bytes.count, "payload ends inside a string")
        defer { offset += n }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }

    /// Several byte strings as one (for `Communicator.allgather`).
    static func encode(chunks: [[UInt8]]) -> [UInt8] {
        var p = Payload()
        p.append(chunks.count)
        for c in chunks { p.append(c.count); p.bytes.append(contentsOf: c) }
        return p.bytes
    }

    static func decode(chunks bytes: [UInt8]) -> [[UInt8]] {
        var p = Payload(bytes: bytes)
        return (0..<p.int()).map { _ in
            let n = p.int()
            defer { p.offset += n }
            return Array(p.bytes[p.offset..<p.offset + n])
        }
    }
}
