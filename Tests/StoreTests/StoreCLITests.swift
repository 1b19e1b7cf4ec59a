import Foundation
import XCTest
@testable import Store

/// `atalp store …` end to end: runs the atalp binary built beside this test bundle (skipped where
/// there is none, e.g. when only the Store targets are built).
final class StoreCLITests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws { dir = try TestDirectory.make("cli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func atalp(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let bundle = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let binary = URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("atalp").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("no atalp binary beside \(bundle)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testListShowVerifyGCAndErrors() throws {
        let root = "\(dir!)/store"
        let missing = try atalp(["store", "ls", "--store", root])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.output, "Error: \(root): no such store directory\n")

        let store = try ArtifactStore(root: root)
        let data = try store.put(ArtifactMetadata(kind: "dataset")) { try $0.write("images", uint8: [1, 2, 3, 4], shape: [1, 2, 2]) }
        let spec = StageSpec(stage: "train", implementationVersion: 1, parameters: ["epochs": 2], inputs: ["data": data])
        let model = try store.run(spec) {
            ["model": try store.put(ArtifactMetadata(kind: "checkpoint", producedBy: spec)) { try $0.write("fc.bias", float32: [0.5, 1.5], shape: [2]) }]
        }.outputs["model"]!
        try store.pin(model, name: "best")

        let ls = try atalp(["store", "ls"], environment: ["ATALP_STORE": root])
        XCTAssertEqual(ls.status, 0, ls.output)
        let lines = ls.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first?.split(separator: " ").map(String.init), ["ID", "KIND", "SIZE", "AGE", "STAGE", "INPUTS", "PINS"])
        XCTAssertTrue(lines.contains { $0.hasPrefix("\(model.short)  checkpoint") && $0.hasSuffix("train  data=\(data.short)  best") }, ls.output)
        XCTAssertEqual(lines.last, "2 artifacts, \(StoreText.size(try store.info(data).bytes + store.info(model).bytes))")

        let show = try atalp(["store", "show", String(model.hex.prefix(6)), "--store", root])
        XCTAssertEqual(show.status, 0, show.output)
        XCTAssertTrue(show.output.contains("params:   {\"epochs\":2}\n"), show.output)
        XCTAssertTrue(show.output.contains("  data = \(data.hex) (dataset)\n"), show.output)
        XCTAssertTrue(show.output.contains("  fc.bias  float32  [2]\n"), show.output)

        // Corrupt the model: verify names it, exits 1, and quarantines it.
        let path = store.path(of: model)
        chmod(path, 0o644)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let offset = try XCTUnwrap(bytes.range(of: Data([0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0xC0, 0x3F]))).lowerBound   // 0.5, 1.5
        bytes[offset + 3] = 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
        let verify = try atalp(["store", "verify", "--store", root])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.output.hasPrefix("CORRUPT  \(model.hex)  content hashes to "), verify.output)
        XCTAssertTrue(verify.output.hasSuffix("verified 2 artifacts: 1 intact, 1 corrupt\n"), verify.output)
        XCTAssertEqual(store.status(try spec.key()), .missingOutput(role: "model", id: model))

        let gc = try atalp(["store", "gc", "--dry-run", "--store", root])
        XCTAssertEqual(gc.status, 0, gc.output)
        XCTAssertEqual(gc.output.split(separator: "\n").last,
                       "would remove 1 artifacts (\(StoreText.size(try store.info(data).bytes))), 0 run records, 0 temporary files; kept 0 artifacts, 1 run records")

        let badImport = try atalp(["store", "import", "\(dir!)/nothing.h5", "--store", root])
        XCTAssertEqual(badImport.status, 1)
        XCTAssertEqual(badImport.output, "Error: \(dir!)/nothing.h5: no such file\n")
    }

    func testListingFormat() {
        let a = ArtifactID(String(repeating: "a", count: 64))!, b = ArtifactID(String(repeating: "b", count: 64))!
        let now = Date(timeIntervalSince1970: 1_000_000)
        let text = StoreText.list([
            ArtifactInfo(id: a, kind: "dataset", stage: "ingest", inputs: [:], bytes: 47_040_000, created: now.addingTimeInterval(-7300), path: ""),
            ArtifactInfo(id: b, kind: "checkpoint", stage: "train", inputs: ["data": a], bytes: 812, created: now.addingTimeInterval(-5), path: ""),
        ], pins: [Pin(name: "paper", id: b)], now: now)
        XCTAssertEqual(text, """
            ID            KIND        SIZE     AGE  STAGE   INPUTS             PINS
            aaaaaaaaaaaa  dataset     47.0 MB  2h   ingest  -                  -
            bbbbbbbbbbbb  checkpoint  812 B    5s   train   data=aaaaaaaaaaaa  paper
            2 artifacts, 47.0 MB

            """)
        XCTAssertEqual(StoreText.list([]), "(the store is empty)\n")
    }
}
