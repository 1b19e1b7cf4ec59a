import Foundation
import XCTest
@testable import Store

/// Child processes for crash and concurrency tests: the test binary re-runs itself with only
/// `ChildProcessEntry/testChild` selected and the job in the environment. In a normal test run
/// that test does nothing.
final class ChildProcessEntry: XCTestCase {
    func testChild() throws {
        let env = ProcessInfo.processInfo.environment
        guard let root = env["ATALP_TEST_CHILD_STORE"] else { return }
        let seed = Int(env["ATALP_TEST_CHILD_SEED"] ?? "1") ?? 1
        let megabytes = Int(env["ATALP_TEST_CHILD_MB"] ?? "4") ?? 4
        let pause = Double(env["ATALP_TEST_CHILD_PAUSE"] ?? "0") ?? 0
        let marker = env["ATALP_TEST_CHILD_MARKER"]
        let store = try ArtifactStore(root: root)
        let result = try StoreTorture.run(store: store, seed: seed, megabytes: megabytes, pause: pause, lockTimeout: 30) {
            if let marker { _ = FileManager.default.createFile(atPath: "\(marker).\(getpid())", contents: nil) }
        }
        let line = "RESULT computed=\(result.computed) data=\(result.outputs["data"]!.hex)\n"
        FileHandle.standardOutput.write(Data(line.utf8))
        exit(0)
    }
}

/// A running child process of the test binary.
struct Child {
    let process: Process
    let output: Pipe

    static func start(store: String, seed: Int, megabytes: Int, pause: Double = 0, marker: String? = nil) throws -> Child {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["StoreTests.ChildProcessEntry/testChild"]
        var env = ProcessInfo.processInfo.environment
        env["ATALP_TEST_CHILD_STORE"] = store
        env["ATALP_TEST_CHILD_SEED"] = "\(seed)"
        env["ATALP_TEST_CHILD_MB"] = "\(megabytes)"
        env["ATALP_TEST_CHILD_PAUSE"] = "\(pause)"
        if let marker { env["ATALP_TEST_CHILD_MARKER"] = marker }
        process.environment = env
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        return Child(process: process, output: output)
    }

    /// Waits for the child and returns its RESULT line ("computed=true data=<id>").
    func finish(file: StaticString = #filePath, line: UInt = #line) -> String? {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let result = text.split(separator: "\n").first { $0.hasPrefix("RESULT ") }
        if result == nil { XCTFail("child printed no RESULT (status \(process.terminationStatus)):\n\(text.suffix(2000))", file: file, line: line) }
        return result.map { String($0.dropFirst("RESULT ".count)) }
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Polls `condition` every 10 ms for up to `seconds`.
func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
