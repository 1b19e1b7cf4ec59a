import Foundation
import XCTest
@testable import Store

/// Child processes for crash and concurrency tests: the test binary re-runs itself with only
/// `ChildProcessEntry/testChild` selected and the job in the environment. In a normal test run
/// that test does nothing.
final class ChildProcessEntry: XCTestCase {
    func testChild() throws {
        let env = ProcessInfo.processInfo.environment
        if let path = env["ATALP_TEST_CHILD_FLOCK"] { holdLock(path) }
        guard let root = env["ATALP_TEST_CHILD_STORE"] else { return }
        // Started together, the children wait for one signal so that they open the store at once.
        if let go = env["ATALP_TEST_CHILD_GO"] { _ = waitFor(30) { FileManager.default.fileExists(atPath: go) } }
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

    /// Holds an exclusive flock on `path` — what HDF5 (1.10+, so h5py too) takes on a file it opens
    /// for writing, e.g. `h5py.File(path, "r+")` — until killed (or 60 s pass).
    func holdLock(_ path: String) -> Never {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, flock(fd, LOCK_EX) == 0 else {
            FileHandle.standardOutput.write(Data("FAILED \(String(cString: strerror(errno)))\n".utf8))
            exit(1)
        }
        FileHandle.standardOutput.write(Data("LOCKED\n".utf8))
        sleep(60)
        exit(0)
    }
}

/// A child process that holds another process's write lock on a file (see `holdLock`).
struct LockHolder {
    let process: Process

    static func start(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> LockHolder {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["StoreTests.ChildProcessEntry/testChild"]
        process.environment = ProcessInfo.processInfo.environment.merging(["ATALP_TEST_CHILD_FLOCK": path]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for its "LOCKED" line, so the lock is held before the test goes on.
        // (XCTest prints its own lines first.)
        var text = ""
        while !text.contains("LOCKED\n") && !text.contains("FAILED") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        XCTAssertTrue(text.contains("LOCKED\n"), "the lock holder did not lock \(path): \(text)", file: file, line: line)
        return LockHolder(process: process)
    }

    func stop() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A running child process of the test binary.
struct Child {
    let process: Process
    let output: Pipe

    static func start(store: String, seed: Int, megabytes: Int, pause: Double = 0, marker: String? = nil,
                      go: String? = nil) throws -> Child {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["StoreTests.ChildProcessEntry/testChild"]
        var env = ProcessInfo.processInfo.environment
        env["ATALP_TEST_CHILD_STORE"] = store
        env["ATALP_TEST_CHILD_SEED"] = "\(seed)"
        env["ATALP_TEST_CHILD_MB"] = "\(megabytes)"
        env["ATALP_TEST_CHILD_PAUSE"] = "\(pause)"
        if let marker { env["ATALP_TEST_CHILD_MARKER"] = marker }
        if let go { env["ATALP_TEST_CHILD_GO"] = go }
        process.environment = env
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
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
