import Foundation
import XCTest
@testable import Store

/// Artifacts are plain HDF5: h5py reads them, and recomputes their ids from the documented encoding
/// (benchmarks/store/artifact_id.py). Skipped where python3 with h5py is not installed.
final class InteropTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws { dir = try TestDirectory.make("interop") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../benchmarks/store/artifact_id.py").standardized.path

    func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func requireH5py() throws {
        guard (try? python(["-c", "import h5py"]))?.status == 0 else { throw XCTSkip("python3 with h5py is not installed") }
    }

    func testH5pyRecomputesTheIdAndReadsTheData() throws {
        try requireH5py()
        let store = try ArtifactStore(root: "\(dir!)/store")
        let input = try store.put(ArtifactMetadata(kind: "dataset")) { try $0.write("x", uint8: [1, 2, 3], shape: [3]) }
        let id = try store.put(ArtifactMetadata(kind: "checkpoint", formatVersion: 2, stage: "train", stageVersion: 3,
                                                parameters: ["lr": 0.1, "name": "résumé", "ok": true], inputs: ["data": input])) { a in
            try a.write("layer1.0.conv1.weight", float32: [0.5, -1, 3e-8, 7], shape: [2, 1, 2, 1])
            try a.write("bn/num_batches_tracked", int64: [12], shape: [])
            try a.write("labels", int32: [-5, 9], shape: [2])
            try a.write("empty", float32: [], shape: [0, 3])
            try a.createGroup("extras/nothing")
            try a.setAttribute("notes", .strings(["a", "ß"]), on: "extras")
            try a.setAttribute("scale", .doubles([0.25, 1e300]), on: "labels")
            try a.setAttribute("none", .ints([]), on: "labels")
        }
        let recomputed = try python([Self.script, store.path(of: id)])
        XCTAssertEqual(recomputed.status, 0, recomputed.output)
        XCTAssertEqual(recomputed.output.trimmingCharacters(in: .whitespacesAndNewlines), id.hex)

        let read = try python(["-c", """
            import h5py, sys
            f = h5py.File(sys.argv[1], "r")
            print(f.attrs["kind"], f.attrs["params"], list(f.attrs["input_roles"]), f["layer1.0.conv1.weight"][()].ravel().tolist(), f["labels"][()].tolist())
            """, store.path(of: id)])
        XCTAssertEqual(read.output, #"checkpoint {"lr":0.1,"name":"résumé","ok":true} ['data'] [0.5, -1.0, 2.999999892949745e-08, 7.0] [-5, 9]"# + "\n")

        // Inside an export file too.
        let export = "\(dir!)/export.h5"
        try store.export([id], to: export)
        let inExport = try python([Self.script, export, "artifacts/\(id.hex)"])
        XCTAssertEqual(inExport.output.trimmingCharacters(in: .whitespacesAndNewlines), id.hex)
    }
}
