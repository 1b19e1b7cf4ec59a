import Foundation
import XCTest
@testable import Store

final class TransferTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws { dir = try TestDirectory.make("transfer") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A source store with a dataset, a model trained on it (run recorded), and an export of the model.
    func makeExport() throws -> (source: ArtifactStore, data: ArtifactID, model: ArtifactID, key: StageKey, file: String) {
        let source = try ArtifactStore(root: "\(dir!)/source")
        let data = try source.put(ArtifactMetadata(kind: "dataset")) { a in
            try a.write("images", uint8: [UInt8](repeating: 7, count: 2 * 28 * 28), shape: [2, 28, 28])
            try a.write("labels", int64: [3, 9], shape: [2])
        }
        let spec = StageSpec(stage: "train", implementationVersion: 1, parameters: ["epochs": 1], inputs: ["data": data])
        let result = try source.run(spec) {
            ["model": try source.put(ArtifactMetadata(kind: "checkpoint", producedBy: spec)) { a in
                try a.write("fc.weight", float32: [1, 2, 3, 4, 5, 6], shape: [2, 3])
            }]
        }
        let file = "\(dir!)/model.h5"
        let exported = try source.export([result.outputs["model"]!], to: file, includeInputs: true)
        XCTAssertEqual(exported.count, 2)
        return (source, data, result.outputs["model"]!, result.key, file)
    }

    /// Every file under `path`, with its size: a fingerprint of "the store is unchanged".
    func snapshot(_ path: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for case let entry as String in FileManager.default.enumerator(atPath: path) ?? FileManager.default.enumerator(atPath: "/nonexistent")! {
            out[entry] = ArtifactStore.stamp("\(path)/\(entry)")?.size
        }
        return out
    }

    func testExportImportRoundTripIsIdempotent() throws {
        let (_, data, model, key, file) = try makeExport()
        let target = try ArtifactStore(root: "\(dir!)/target")
        let first = try target.importFile(file)
        XCTAssertEqual(Set(first.added), [data, model])
        XCTAssertEqual(first.runsAdded, [key])
        XCTAssertEqual(target.lookup(key), ["model": model], "the imported run serves its key")
        XCTAssertEqual(try target.read(model, verify: true) { try $0.readFloat32("fc.weight") }, [1, 2, 3, 4, 5, 6])
        let before = snapshot(target.root)
        let second = try target.importFile(file)
        XCTAssertEqual(second.added, [])
        XCTAssertEqual(Set(second.alreadyPresent), [data, model])
        XCTAssertEqual(second.runsAlreadyPresent, [key])
        XCTAssertEqual(snapshot(target.root), before)
    }

    func testTamperedExportIsRefusedAndStoreUnchanged() throws {
        let (_, _, model, _, file) = try makeExport()
        // Rewrite the export with one weight changed but the original id as the group name.
        let tampered = "\(dir!)/tampered.h5"
        try HDF5File.read(from: file) { source in
            try HDF5File.write(to: tampered) { out in
                for name in try source.attributeNames() { try out.setAttribute(name, try source.attribute(name)!) }
                try ArtifactStore.copy(from: source, root: "artifacts/\(model.hex)", to: out, prefix: "artifacts/\(model.hex)")
            }
        }
        try HDF5File.read(from: tampered) { _ in }
        let patched = "\(dir!)/patched.h5"
        try HDF5File.read(from: tampered) { source in
            try HDF5File.write(to: patched) { out in
                for name in try source.attributeNames() where name != "runs" { try out.setAttribute(name, try source.attribute(name)!) }
                for name in try source.attributeNames(on: "artifacts/\(model.hex)") {
                    try out.createGroup("artifacts/\(model.hex)")
                    try out.setAttribute(name, try source.attribute(name, on: "artifacts/\(model.hex)")!, on: "artifacts/\(model.hex)")
                }
                try out.write("artifacts/\(model.hex)/fc.weight", float32: [1, 2, 3, 4, 5, 666], shape: [2, 3])
            }
        }
        let target = try ArtifactStore(root: "\(dir!)/target")
        let before = snapshot(target.root)
        XCTAssertThrowsError(try target.importFile(patched)) {
            XCTAssertEqual("\($0)", "\(patched): artifact \(model.short)… was modified: its content hashes to "
                + "\(try! HDF5File.read(from: patched) { try ContentHash.read(from: $0, root: "artifacts/\(model.hex)").id.short })…; nothing imported")
        }
        XCTAssertEqual(snapshot(target.root), before)
    }

    func testTamperedRunRecordIsRefused() throws {
        let (_, _, _, _, file) = try makeExport()
        let patched = "\(dir!)/patched-run.h5"
        try HDF5File.read(from: file) { source in
            try HDF5File.write(to: patched) { out in
                for name in try source.attributeNames() { try out.setAttribute(name, try source.attribute(name)!) }
                let runs = try source.attribute("runs")!.stringsValue!.map { $0.replacingOccurrences(of: #"{\"epochs\":1}"#, with: #"{\"epochs\":100}"#) }
                XCTAssertTrue(runs[0].contains("100"))
                try out.setAttribute("runs", .strings(runs))
                for id in try source.objects().filter({ $0.path.split(separator: "/").count == 2 }).map(\.path) {
                    try ArtifactStore.copy(from: source, root: id, to: out, prefix: id)
                }
            }
        }
        let target = try ArtifactStore(root: "\(dir!)/target")
        let before = snapshot(target.root)
        XCTAssertThrowsError(try target.importFile(patched)) {
            XCTAssertTrue("\($0)".contains("does not match its contents"), "\($0)")
            XCTAssertTrue("\($0)".hasSuffix("nothing imported"), "\($0)")
        }
        XCTAssertEqual(snapshot(target.root), before)
    }

    func testNamesThatTryToEscapeTheStoreAreRefused() throws {
        let target = try ArtifactStore(root: "\(dir!)/target")
        let before = snapshot(target.root)
        for name in ["..", "...", "evil", "..%2f..%2fetc", String(repeating: "A", count: 64)] {
            let file = "\(dir!)/escape.h5"
            try HDF5File.write(to: file) { out in
                try out.setAttribute("format", .string("atalp-export"))
                try out.createGroupUnchecked("artifacts")
                try out.createGroupUnchecked("artifacts/\(name)")
                try out.write("artifacts/\(name == ".." ? "x" : name)/w", float32: [1], shape: [1])
            }
            XCTAssertThrowsError(try target.importFile(file), name) {
                XCTAssertTrue("\($0)".contains("invalid artifact name"), "\(name): \($0)")
                XCTAssertTrue("\($0)".hasSuffix("nothing imported"), "\($0)")
            }
        }
        let notExport = "\(dir!)/plain.h5"
        try HDF5File.write(to: notExport) { try $0.write("w", float32: [1], shape: [1]) }
        XCTAssertThrowsError(try target.importFile(notExport)) {
            XCTAssertEqual("\($0)", "\(notExport): not an atalp export file (no format = \"atalp-export\" attribute); nothing imported")
        }
        XCTAssertEqual(snapshot(target.root), before)
    }
}
