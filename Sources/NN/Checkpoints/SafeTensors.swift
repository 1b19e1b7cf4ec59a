import Foundation
import Tensors

/// The safetensors format (Hugging Face's `safetensors`, the common way to share PyTorch weights
/// without pickle), read and written here because no Swift library for it is on this machine.
/// The format, as its specification gives it:
///
///     8 bytes   N, the header's length, unsigned little-endian
///     N bytes   JSON: {"<name>": {"dtype": "F32", "shape": [64, 3, 3, 3], "data_offsets": [begin, end]}, …,
///               "__metadata__": {string: string} (optional)}, padded with spaces
///     the rest  the tensors' bytes, little-endian, row-major; offsets count from here
///
/// Read: F32, F64, F16, BF16 and the integer types (I64, I32, I16, I8, U8, BOOL) as Float — an
/// integer tensor is `num_batches_tracked`. Written: F32, and I64 for `num_batches_tracked`.
public enum SafeTensors {
    public struct FormatError: Error, CustomStringConvertible {
        public var file: String
        public var message: String
        public var description: String { "\(file): not a readable safetensors file: \(message)" }
    }

    /// Every tensor of the file, by name.
    public static func read(_ path: String) throws -> [String: Tensor] {
        let data: Foundation.Data
        do { data = try Foundation.Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw FormatError(file: path, message: "cannot read it (\(error.localizedDescription))")
        }
        func fail(_ message: String) -> FormatError { FormatError(file: path, message: message) }
        guard data.count >= 8 else { throw fail("\(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else { throw fail("the header claims \(headerLength) bytes; the file has \(data.count - 8) after the length") }
        let body = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<body)) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        var tensors: [String: Tensor] = [:]
        for (name, entry) in header where name != "__metadata__" {
            guard let entry = entry as? [String: Any], let dtype = entry["dtype"] as? String, let shape = entry["shape"] as? [Int],
                  let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor '\(name)': needs dtype, shape and data_offsets")
            }
            guard let size = elementSizes[dtype] else { throw fail("tensor '\(name)': dtype \(dtype) is not supported") }
            let count = shape.reduce(1, *), (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, body + end <= data.count else { throw fail("tensor '\(name)': data_offsets \(offsets) lie outside the file") }
            guard end - begin == count * size else {
                throw fail("tensor '\(name)': \(end - begin) bytes for shape \(shape) of \(dtype) (\(count * size) expected)")
            }
            let values = data.subdata(in: (body + begin)..<(body + end)).withUnsafeBytes { raw in
                (0..<count).map { i in decode(raw, i, dtype) }
            }
            tensors[name] = Tensor(shape: shape, values: values)
        }
        return tensors
    }

    /// Writes tensors as F32 (names ending in `num_batches_tracked` as I64), names sorted.
    public static func write(_ tensors: [String: Tensor], to path: String) throws {
        var header: [String: Any] = [:], payload = Foundation.Data()
        for (name, t) in tensors.sorted(by: { $0.key < $1.key }) {
            let begin = payload.count
            if name.hasSuffix("num_batches_tracked") {
                var v = Int64(t.scalar).littleEndian
                payload.append(Foundation.Data(bytes: &v, count: 8))
                header[name] = ["dtype": "I64", "shape": [Int](), "data_offsets": [begin, payload.count]]
            } else {
                t.withUnsafeBufferPointer { payload.append(Foundation.Data(buffer: $0)) }
                header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [begin, payload.count]]
            }
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }   // the reference writer pads the header to 8 bytes
        var length = UInt64(json.count).littleEndian
        var file = Foundation.Data(bytes: &length, count: 8)
        file.append(json)
        file.append(payload)
        try file.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static let elementSizes = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1]

    static func decode(_ raw: UnsafeRawBufferPointer, _ i: Int, _ dtype: String) -> Float {
        switch dtype {
        case "F32": Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
        case "F64": Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian))
        case "F16": Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian))
        case "BF16": Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
        case "I64": Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        case "I32": Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        case "I16": Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
        case "I8": Float(raw.load(fromByteOffset: i, as: Int8.self))
        default: Float(raw[i])   // U8, BOOL
        }
    }
}
