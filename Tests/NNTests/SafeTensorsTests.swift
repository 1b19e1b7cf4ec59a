import Foundation
@testable import NN
import Tensors
import XCTest

/// The safetensors reader against files laid out byte by byte as the format's specification says.
final class SafeTensorsTests: XCTestCase {
    func file(_ header: String, _ payload: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "atalp-safetensors-\(UUID().uuidString).safetensors"
        var length = UInt64(header.utf8.count).littleEndian
        var data = Data(bytes: &length, count: 8)
        data.append(Data(header.utf8))
        data.append(Data(payload))
        try data.write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testRoundTripAndOtherDtypes() throws {
        let t = Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-3, 7])
        let path = NSTemporaryDirectory() + "atalp-safetensors-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(["w": t, "bn.num_batches_tracked": Tensor(scalar: 12)], to: path)
        let back = try SafeTensors.read(path)
        XCTAssertEqual(back["w"], t)
        XCTAssertEqual(back["bn.num_batches_tracked"]?.scalar, 12)
        // BF16 1.0 = 0x3F80, F16 -2.0 = 0xC000, I64 5: little-endian bytes.
        let mixed = try file(#"{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F16","shape":[1],"data_offsets":[2,4]},"c":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}"#,
                             [0x80, 0x3F, 0x00, 0xC0, 5, 0, 0, 0, 0, 0, 0, 0])
        let read = try SafeTensors.read(mixed)
        XCTAssertEqual(read["a"]?.scalars, [1])
        XCTAssertEqual(read["b"]?.scalars, [-2])
        XCTAssertEqual(read["c"]?.scalar, 5)
    }

    func testDamagedFilesAreNamed() throws {
        let short = try file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0])
        XCTAssertThrowsError(try SafeTensors.read(short)) { XCTAssertEqual("\($0)", "\(short): not a readable safetensors file: tensor 'a': data_offsets [0, 8] lie outside the file") }
        let wrong = try file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8))
        XCTAssertThrowsError(try SafeTensors.read(wrong)) { XCTAssertTrue("\($0)".contains("8 bytes for shape [3] of F32 (12 expected)"), "\($0)") }
        let notJSON = try file("hello", [])
        XCTAssertThrowsError(try SafeTensors.read(notJSON)) { XCTAssertTrue("\($0)".hasSuffix("the header is not a JSON object"), "\($0)") }
    }
}
