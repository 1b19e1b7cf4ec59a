import Foundation
import Testing
@testable import Data

/// A fresh temporary folder; the test removes it with `remove()` (in a `defer`).
struct TemporaryFolder {
    let path: String

    init(_ name: String = #function) throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        path = NSTemporaryDirectory() + "atalp-data-\(safe)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ relative: String) -> String { path + "/" + relative }

    func makeFolder(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: file(relative), withIntermediateDirectories: true)
    }

    func write(_ bytes: [UInt8], to relative: String) throws {
        let target = file(relative)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Expects `body` to throw a `DataError` of `kind` whose message names `path` and contains `fragment`.
func expectDataError<T>(_ kind: DataError.Kind, naming path: String, containing fragment: String = "",
                        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
    do {
        _ = try body()
        Issue.record("expected a DataError (\(kind)) naming \(path), got success", sourceLocation: sourceLocation)
    } catch let error as DataError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.contains(path), "\(error) does not name \(path)", sourceLocation: sourceLocation)
        if !fragment.isEmpty {
            #expect(error.message.contains(fragment), "\(error) does not say \(fragment)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a DataError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// IDX bytes: the header for an unsigned-byte array of `shape`, then `data`.
func idxBytes(shape: [Int], data: [UInt8], type: UInt8 = 0x08) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
    for n in shape { bytes += [UInt8(n >> 24 & 255), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] }
    return bytes + data
}

/// `bytes` gzipped by the system's `gzip` (an independent encoder).
func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try folder.write(bytes, to: "x")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-n", folder.file("x")]
    try process.run()
    process.waitUntilExit()
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder.file("x.gz"))))
}
