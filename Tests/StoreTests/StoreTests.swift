import Foundation
import XCTest
@testable import Store

final class StoreTests: XCTestCase {
    var dir: String!
    var store: ArtifactStore!

    override func setUpWithError() throws {
        dir = try TestDirectory.make("store")
        store = try ArtifactStore(root: "\(dir!)/store")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func makeSpec(_ seed: Int, inputs: [String: ArtifactID] = [:]) -> StageSpec {
        StageSpec(stage: "preprocess", implementationVersion: 1, parameters: ["seed": .int(Int64(seed))], inputs: inputs)
    }

    /// A stage whose output is 16 KiB of floats determined by `seed`.
    func runStage(_ seed: Int, inputs: [String: ArtifactID] = [:], counter: UnsafeMutablePointer<Int>? = nil) throws -> RunResult {
        let spec = makeSpec(seed, inputs: inputs)
        return try store.run(spec) {
            counter?.pointee += 1
            let id = try store.put(ArtifactMetadata(kind: "dataset", producedBy: spec)) { a in
                try a.write("x", float32: (0..<4096).map { Float($0 + seed) }, shape: [64, 64])
            }
            return ["out": id]
        }
    }

    /// Flips one byte in the middle of a stored artifact's file.
    func flipByte(_ id: ArtifactID, restoreMTime: Bool = false) throws {
        let path = store.path(of: id)
        var before = stat()
        stat(path, &before)
        chmod(path, 0o644)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o444)
        if restoreMTime {   // what `touch -r` does: put the old nanosecond mtime back
            var times = [before.st_atim, before.st_mtim]
            XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
        }
    }

    func testSameKeyNeverComputesTwice() throws {
        var count = 0
        let first = try runStage(1, counter: &count)
        let second = try runStage(1, counter: &count)
        XCTAssertEqual(count, 1)
        XCTAssertTrue(first.computed)
        XCTAssertFalse(second.computed)
        XCTAssertEqual(first.outputs, second.outputs)
        XCTAssertEqual(store.status(first.key), .fresh(first.outputs))
        let record = try XCTUnwrap(try store.runRecord(first.key))
        XCTAssertEqual(record.parametersJSON, #"{"seed":1}"#)
        XCTAssertEqual(try store.metadata(of: first.outputs["out"]!).parametersJSON, #"{"seed":1}"#)
        _ = try runStage(2, counter: &count)
        XCTAssertEqual(count, 2, "different parameters, different key")
    }

    func testFlippedByteIsFoundByVerifyAndRecomputedByLookup() throws {
        var count = 0
        let run = try runStage(1, counter: &count)
        let id = run.outputs["out"]!
        try flipByte(id)
        // The lookup that needs it sees the changed file, rehashes it, quarantines it, reports why.
        guard case .corruptOutput(role: "out", id: id, reason: _) = store.status(run.key) else {
            return XCTFail("expected a corrupt output, got \(store.status(run.key))")
        }
        XCTAssertNil(store.lookup(run.key))
        XCTAssertEqual(store.status(run.key), .missingOutput(role: "out", id: id), "quarantined, so now missing")
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: "\(dir!)/store/quarantine")
        XCTAssertTrue(quarantined.contains { $0.hasPrefix(id.hex) && $0.hasSuffix(".h5") }, "\(quarantined)")
        let again = try runStage(1, counter: &count)
        XCTAssertTrue(again.computed)
        XCTAssertEqual(count, 2)
        XCTAssertEqual(again.outputs, run.outputs, "a deterministic stage recomputes the same id")
        XCTAssertEqual(try store.verify().corrupt.count, 0)
    }

    func testVerifyNamesAFlipTheCheapCheckCannotSee() throws {
        let run = try runStage(1)
        let id = run.outputs["out"]!
        try flipByte(id, restoreMTime: true)
        XCTAssertNotNil(store.lookup(run.key), "size and mtime unchanged: the cheap check trusts it")
        XCTAssertThrowsError(try store.read(id, verify: true) { _ in }) {
            XCTAssertTrue("\($0)".contains("corrupt artifact"), "\($0)")
        }
        XCTAssertNil(store.lookup(run.key))
        _ = try runStage(1)
        try flipByte(id, restoreMTime: true)
        let report = try store.verify()
        XCTAssertEqual(report.corrupt.map(\.id), [id])
        XCTAssertNil(store.lookup(run.key))
    }

    func testGCKeepsPinsRootsAndProvenance() throws {
        let a = try runStage(1), b = try runStage(2)
        let derived = try runStage(3, inputs: ["source": a.outputs["out"]!])
        let loose = try store.put(ArtifactMetadata(kind: "evaluation")) { try $0.write("acc", float32: [0.5], shape: [1]) }
        try store.pin(derived.outputs["out"]!, name: "best-model")
        let dry = try store.gc(dryRun: true)
        XCTAssertEqual(Set(dry.removedArtifacts.map(\.id)), [b.outputs["out"]!, loose])
        XCTAssertEqual(try store.allObjectIDs().count, 4, "a dry run removes nothing")

        let report = try store.gc(roots: GCRoots(keys: [b.key]))
        XCTAssertEqual(report.removedArtifacts.map(\.id), [loose])
        XCTAssertEqual(Set(try store.allObjectIDs()), [a.outputs["out"]!, b.outputs["out"]!, derived.outputs["out"]!],
                       "pinned, its input (provenance) and a root key's output survive")
        XCTAssertNotNil(store.lookup(a.key))

        try store.unpin("best-model")
        XCTAssertEqual(try store.pins(), [])
        let last = try store.gc()
        XCTAssertEqual(last.removedArtifacts.count, 3)
        XCTAssertEqual(last.removedRuns.count, 3)
        XCTAssertEqual(store.status(a.key), .neverRun)
    }

    func testGCRootSourcesAreConsulted() throws {
        let a = try runStage(1)
        GCRootSources.register("test-pipeline") { _ in GCRoots(keys: [a.key]) }
        defer { GCRootSources.register("test-pipeline") { _ in GCRoots() } }
        let report = try store.gc(roots: try GCRootSources.collect(store))
        XCTAssertEqual(report.removedArtifacts.count, 0)
        XCTAssertNotNil(store.lookup(a.key))
    }

    func testStoreRefusesAForeignDirectoryAndResolvesPrefixes() throws {
        let foreign = "\(dir!)/foreign"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(foreign)/thesis.tex", contents: Data())
        XCTAssertThrowsError(try ArtifactStore(root: foreign)) {
            XCTAssertEqual("\($0)", "\(foreign): not an atalp store (no STORE file) and not empty (it holds thesis.tex); refusing to use it")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: foreign), ["thesis.tex"], "nothing written into it")
        let run = try runStage(1)
        let id = run.outputs["out"]!
        XCTAssertEqual(try store.resolve(String(id.hex.prefix(8))), id)
        XCTAssertThrowsError(try store.resolve("../etc")) { XCTAssertTrue("\($0)".contains("64 hex digits"), "\($0)") }
        XCTAssertThrowsError(try store.pin(id, name: "../escape")) { XCTAssertTrue("\($0)".contains("pin names"), "\($0)") }
    }

    func testDiagnoseSaysWhyAStageWouldRun() throws {
        let data = try runStage(1).outputs["out"]!
        let other = try runStage(2).outputs["out"]!
        func spec(_ version: Int, _ params: [String: ParameterValue], _ input: ArtifactID) -> StageSpec {
            StageSpec(stage: "train", implementationVersion: version, parameters: params, inputs: ["data": input])
        }
        let first = spec(1, ["lr": 0.1, "epochs": 3], data)
        XCTAssertEqual(store.diagnose(first), ["never run"])
        _ = try store.run(first, info: ["name": "train-pat"]) {
            ["model": try store.put(ArtifactMetadata(kind: "checkpoint")) { try $0.write("w", float32: [1], shape: [1]) }]
        }
        XCTAssertEqual(store.diagnose(first), ["up to date"])
        XCTAssertEqual(store.diagnose(spec(2, ["lr": 0.05, "momentum": 0.9], other), instance: "train-pat"), [
            "new implementation version (1 → 2)",
            "changed params: -epochs, lr (0.1 → 0.05), +momentum",
            "changed deps: data (\(data.short) → \(other.short))",
        ])
        XCTAssertEqual(store.diagnose(spec(1, ["lr": 0.2], data), instance: "train-alp"), ["never run"], "no earlier run of that instance")
    }
}
