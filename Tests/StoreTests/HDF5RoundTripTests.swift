import Foundation
import XCTest
@testable import Store

final class HDF5RoundTripTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = try TestDirectory.make("hdf5")
    }

    override func tearDownWithError() throws {
        if ProcessInfo.processInfo.environment["KEEP"] == nil { try? FileManager.default.removeItem(atPath: dir) }
    }

    func testEveryDTypeAndRankRoundTrips() throws {
        let path = "\(dir!)/all.h5"
        let floats: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
        let bytes: [UInt8] = (0..<6).map { UInt8($0 * 40) }
        let ints32: [Int32] = [-2, 0, Int32.max]
        let ints64: [Int64] = [Int64.min, -1, 7, Int64.max]
        try HDF5File.write(to: path) { w in
            try w.write("layer1.0.conv1.weight", float32: floats, shape: [2, 3, 2, 2])
            try w.write("images/train", uint8: bytes, shape: [1, 2, 3])
            try w.write("labels", int32: ints32, shape: [3])
            try w.write("deep/a/b/ids", int64: ints64, shape: [2, 2])
            try w.write("scalar", float32: [42], shape: [])
            try w.write("empty", float32: [], shape: [0, 5])
            try w.write("packed", uint8: bytes, shape: [6], compression: .deflate(level: 4))
            try w.createGroup("meta/empty")
        }
        try HDF5File.read(from: path) { r in
            XCTAssertEqual(try r.datasetPaths(), ["deep/a/b/ids", "empty", "images/train", "labels",
                                                  "layer1.0.conv1.weight", "packed", "scalar"])
            XCTAssertEqual(try r.readFloat32("layer1.0.conv1.weight"), floats)
            XCTAssertEqual(try r.shape(of: "layer1.0.conv1.weight"), [2, 3, 2, 2])
            XCTAssertEqual(try r.dtype(of: "layer1.0.conv1.weight"), .float32)
            XCTAssertEqual(try r.readUInt8("images/train"), bytes)
            XCTAssertEqual(try r.readUInt8("packed"), bytes)
            XCTAssertEqual(try r.dtype(of: "images/train"), .uint8)
            XCTAssertEqual(try r.readInt32("labels"), ints32)
            XCTAssertEqual(try r.readInt64("/deep/a/b/ids"), ints64)
            XCTAssertEqual(try r.shape(of: "scalar"), [])
            XCTAssertEqual(try r.readFloat32("scalar"), [42])
            XCTAssertEqual(try r.shape(of: "empty"), [0, 5])
            XCTAssertEqual(try r.readFloat32("empty"), [])
            XCTAssertTrue(r.contains("meta/empty"))
            XCTAssertTrue(r.contains("/"))
            XCTAssertFalse(r.contains("meta/nothing"))
            XCTAssertFalse(r.contains("nothing/at/all"))

            var buffer = [Float](repeating: 0, count: 24)
            try buffer.withUnsafeMutableBufferPointer { try r.readFloat32("layer1.0.conv1.weight", into: $0) }
            XCTAssertEqual(buffer, floats)
            var short = [Float](repeating: 0, count: 23)
            XCTAssertThrowsError(try short.withUnsafeMutableBufferPointer { try r.readFloat32("layer1.0.conv1.weight", into: $0) }) {
                XCTAssertTrue("\($0)".contains("buffer holds 23"), "\($0)")
            }
        }
    }

    func testAttributesRoundTripOnRootGroupsAndDatasets() throws {
        let path = "\(dir!)/attrs.h5"
        let long = String(repeating: "x", count: 100_000)   // above HDF5's 64 KiB compact-attribute limit
        let values: [String: HDF5Attribute] = [
            "kind": .string("checkpoint"), "format_version": .int(1), "lr": .double(0.1),
            "shape": .ints([3, -4]), "mean": .doubles([0.5, 1e-300]), "inputs": .strings(["a", "ünï", ""]),
            "none": .strings([]), "noints": .ints([]), "long": .string(long), "empty": .string(""),
        ]
        try HDF5File.write(to: path) { w in
            try w.write("g/w", float32: [1, 2], shape: [2])
            for (name, value) in values { try w.setAttribute(name, value) }
            try w.setAttribute("role", .string("weights"), on: "g/w")
            try w.setAttribute("role", .string("group"), on: "g")
            try w.setAttribute("kind", .string("replaced"))
        }
        try HDF5File.read(from: path) { r in
            XCTAssertEqual(try r.attributeNames(), values.keys.sorted())
            for (name, value) in values where name != "kind" {
                XCTAssertEqual(try r.attribute(name), value, name)
            }
            XCTAssertEqual(try r.attribute("kind"), .string("replaced"))
            XCTAssertEqual(try r.attribute("role", on: "g/w"), .string("weights"))
            XCTAssertEqual(try r.attribute("role", on: "/g"), .string("group"))
            XCTAssertNil(try r.attribute("missing"))
            XCTAssertThrowsError(try r.attribute("role", on: "nope")) { XCTAssertTrue("\($0)".contains("nope")) }
        }
    }

    func testEqualContentGivesEqualBytes() throws {
        for name in ["a.h5", "b.h5"] {
            if name == "b.h5" { Thread.sleep(forTimeInterval: 1.1) }   // HDF5 timestamps have one-second resolution
            try HDF5File.write(to: "\(dir!)/\(name)") { w in
                try w.write("x/y", float32: [1, 2, 3], shape: [3])
                try w.setAttribute("k", .string("v"), on: "x")
            }
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(dir!)/a.h5"))
        let b = try Data(contentsOf: URL(fileURLWithPath: "\(dir!)/b.h5"))
        XCTAssertEqual(a, b)
    }

    func testErrorsNameTheFileAndTheProblem() throws {
        let path = "\(dir!)/errors.h5"
        XCTAssertThrowsError(try HDF5File.write(to: path) { w in
            try w.write("w", float32: [1, 2, 3], shape: [2, 2])
        }) { error in
            XCTAssertTrue("\(error)".contains("shape [2, 2] needs 4 elements, got 3"), "\(error)")
            XCTAssertTrue("\(error)".contains("errors.h5"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "a failed write leaves nothing")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir!), [], "and no temp file")

        try HDF5File.write(to: path) { w in try w.write("w", int64: [1], shape: [1]) }
        XCTAssertThrowsError(try HDF5File.read(from: path) { try $0.readFloat32("w") }) {
            XCTAssertEqual("\($0)", "\(path): dataset 'w' is int64, not float32")
        }
        XCTAssertThrowsError(try HDF5File.read(from: path) { try $0.readFloat32("v") }) {
            XCTAssertEqual("\($0)", "\(path): no dataset 'v'")
        }
        XCTAssertThrowsError(try HDF5File.read(from: "\(dir!)/missing.h5") { _ in }) {
            XCTAssertEqual("\($0)", "\(dir!)/missing.h5: no such file")
        }
        let garbage = "\(dir!)/garbage.h5"
        try Data("not hdf5 at all".utf8).write(to: URL(fileURLWithPath: garbage))
        XCTAssertThrowsError(try HDF5File.read(from: garbage) { _ in }) {
            XCTAssertTrue("\($0)".hasPrefix("\(garbage): not a readable HDF5 file"), "\($0)")
        }
        XCTAssertThrowsError(try HDF5File.write(to: "\(dir!)/bad.h5") { w in
            try w.write("a/../b", float32: [1], shape: [1])
        }) { XCTAssertTrue("\($0)".contains("invalid object path 'a/../b'"), "\($0)") }
    }

    func testFailedWriteKeepsTheOldFile() throws {
        let path = "\(dir!)/keep.h5"
        try HDF5File.write(to: path) { w in try w.write("v", int32: [1], shape: [1]) }
        struct Boom: Error {}
        XCTAssertThrowsError(try HDF5File.write(to: path) { w in
            try w.write("v", int32: [2], shape: [1])
            throw Boom()
        })
        XCTAssertEqual(try HDF5File.read(from: path) { try $0.readInt32("v") }, [1])
    }
}
