import Foundation
import XCTest
@testable import Store

/// A store shared with other processes (issue 16, faults 2 and 3): creating it together, another
/// program holding an artifact open for writing, and commands that only inspect.
final class SharedStoreTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws { dir = try TestDirectory.make("shared") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// One stage run whose output is a small float artifact.
    func runStage(_ store: ArtifactStore, seed: Int) throws -> RunResult {
        let spec = StageSpec(stage: "preprocess", implementationVersion: 1, parameters: ["seed": .int(Int64(seed))], inputs: [:])
        return try store.run(spec) {
            ["out": try store.put(ArtifactMetadata(kind: "dataset", producedBy: spec)) { a in
                try a.write("x", float32: (0..<4096).map { Float($0 + seed) }, shape: [64, 64])
            }]
        }
    }

    /// Changes an artifact's mtime (what an `h5py.File(path, "r+")` that flushed on close does), so
    /// the cheap size-and-mtime check no longer vouches for it and the content is rehashed.
    func touch(_ path: String) {
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
    }

    func flipByte(_ path: String) throws {
        chmod(path, 0o644)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o444)
    }

    /// Fault 3: N processes started together on a store that does not exist yet. Before, some failed
    /// with "not an atalp store (no STORE file) and not empty" because they saw another's half-made
    /// layout. Now all succeed, one computes the stage and the others reuse it. Three rounds, and
    /// the children wait for one signal so they really open the store at the same moment.
    func testProcessesCreatingOneNewStoreTogetherAllSucceedAndComputeOnce() throws {
        for round in 0..<3 {
            let storePath = "\(dir!)/new-\(round)/store"
            let go = "\(dir!)/go-\(round)"
            let marker = "\(dir!)/computed-\(round)"
            let children = try (0..<5).map { _ in
                try Child.start(store: storePath, seed: 20 + round, megabytes: 1, pause: 0.05, marker: marker, go: go)
            }
            Thread.sleep(forTimeInterval: 0.5)   // let every child start and wait
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            let results = children.compactMap { $0.finish() }
            XCTAssertEqual(results.count, 5, "round \(round): every process succeeded")
            XCTAssertEqual(results.filter { $0.hasPrefix("computed=true") }.count, 1, "round \(round): \(results)")
            XCTAssertEqual(Set(results.map { $0.split(separator: " ")[1] }).count, 1, "all report the same output")
            XCTAssertEqual(entries(dir!).filter { $0.hasPrefix("computed-\(round).") }.count, 1, "the stage ran once")
            XCTAssertTrue(POSIX.exists("\(storePath)/STORE"))
        }
        // Threads of one process, too.
        let storePath = "\(dir!)/threads/store"
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            do { _ = try ArtifactStore(root: storePath) } catch { failures.add("\(error)") }
        }
        XCTAssertEqual(failures.all, [])
    }

    /// A creation killed half-way (layout made, no marker yet) is finished by the next process
    /// instead of being refused as a foreign directory.
    func testHalfMadeStoreIsCompleted() throws {
        let half = "\(dir!)/half"
        for sub in ["objects", "runs", "tmp"] { try POSIX.makeDirectories("\(half)/\(sub)") }
        _ = FileManager.default.createFile(atPath: "\(half)/lock", contents: nil)
        let store = try ArtifactStore(root: half)
        XCTAssertTrue(POSIX.exists("\(half)/STORE"))
        XCTAssertTrue(try runStage(store, seed: 1).computed)
    }

    /// Fault 2: another process holds an intact artifact open for writing (h5py mode "r+": HDF5 takes
    /// an exclusive flock). Before, the rehash that a changed mtime triggers failed with "unable to
    /// lock file, errno = 11", and `status` moved the intact artifact to quarantine/, so the next run
    /// recomputed it. Now artifacts are read without HDF5's lock: the content is checked, found
    /// intact, and nothing moves — for the inspecting store and the repairing one alike.
    func testAnArtifactHeldOpenForWritingIsNotQuarantined() throws {
        let storePath = "\(dir!)/store"
        let store = try ArtifactStore(root: storePath)
        let run = try runStage(store, seed: 1)
        let id = run.outputs["out"]!
        let path = store.path(of: id)
        touch(path)
        let holder = try LockHolder.start(path)
        defer { holder.stop() }
        XCTAssertNotNil(FileLock.conflictingHolder(path), "the child holds the lock a writer holds")

        let inspecting = try ArtifactStore(root: storePath, create: false, repairs: false)
        XCTAssertEqual(inspecting.status(run.key), .fresh(run.outputs))
        XCTAssertEqual(store.status(run.key), .fresh(run.outputs))
        XCTAssertEqual(try store.read(id, verify: true) { try $0.readFloat32("x").count }, 4096)
        XCTAssertFalse(try runStage(store, seed: 1).computed, "not recomputed")
        XCTAssertEqual(try store.verify().intact, [id])
        XCTAssertTrue(POSIX.exists(path))
        XCTAssertEqual(entries("\(storePath)/quarantine"), [])
    }

    /// Damage seen while another process holds the file's write lock is not proof (a writer may be
    /// half-way): the check waits up to $ATALP_LOCK_WAIT seconds, then reports the artifact
    /// unavailable with a message naming the file and what to do; nothing moves and `run` refuses
    /// to recompute. Once the lock is gone, the same damage is proof, and the artifact is quarantined.
    func testDamageUnderAnotherProcesssLockIsNotProof() throws {
        setenv("ATALP_LOCK_WAIT", "0.3", 1)
        defer { unsetenv("ATALP_LOCK_WAIT") }
        let storePath = "\(dir!)/store"
        let store = try ArtifactStore(root: storePath)
        let run = try runStage(store, seed: 2)
        let id = run.outputs["out"]!
        let path = store.path(of: id)
        try flipByte(path)
        let holder = try LockHolder.start(path)

        let started = Date()
        guard case .unavailableOutput(role: "out", id: id, reason: let reason) = store.status(run.key) else {
            holder.stop()
            return XCTFail("expected an unavailable output, got \(store.status(run.key))")
        }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.3, "it waited for the lock first")
        XCTAssertTrue(reason.hasPrefix("\(path) is open for writing in another process"), reason)
        XCTAssertTrue(reason.contains("close it there"), reason)
        XCTAssertThrowsError(try runStage(store, seed: 2)) { error in
            XCTAssertTrue("\(error)".contains("\(path) is open for writing"), "\(error)")
        }
        let report = try store.verify()
        XCTAssertEqual(report.unavailable.map(\.id), [id])
        XCTAssertEqual(report.corrupt.count, 0)
        XCTAssertTrue(POSIX.exists(path), "not moved")
        XCTAssertEqual(entries("\(storePath)/quarantine"), [])

        holder.stop()
        guard case .corruptOutput(role: "out", id: id, reason: _) = store.status(run.key) else {
            return XCTFail("expected a corrupt output once the lock is gone, got \(store.status(run.key))")
        }
        XCTAssertFalse(POSIX.exists(path), "proven damage is quarantined")
        XCTAssertTrue(try runStage(store, seed: 2).computed)
    }

    /// An I/O error is not damage either: an artifact that cannot be opened (here: no read
    /// permission, as a stray chmod leaves it) is reported unavailable, never quarantined.
    func testAnUnopenableArtifactIsUnavailableNotCorrupt() throws {
        guard getuid() != 0 else { throw XCTSkip("root reads files whatever their mode") }
        let storePath = "\(dir!)/store"
        let store = try ArtifactStore(root: storePath)
        let run = try runStage(store, seed: 3)
        let path = store.path(of: run.outputs["out"]!)
        touch(path)
        chmod(path, 0)
        defer { chmod(path, 0o444) }
        guard case .unavailableOutput = store.status(run.key) else { return XCTFail("\(store.status(run.key))") }
        XCTAssertTrue(POSIX.exists(path))
    }

    /// Inspecting commands (status, ls, show, report) open the store with `repairs: false`: real
    /// damage is reported, but nothing is moved or deleted — not the damaged artifact, not a dead
    /// writer's temp file.
    func testInspectingNeverMovesOrDeletes() throws {
        let storePath = "\(dir!)/store"
        let store = try ArtifactStore(root: storePath)
        let run = try runStage(store, seed: 4)
        let id = run.outputs["out"]!
        try flipByte(store.path(of: id))
        _ = FileManager.default.createFile(atPath: "\(storePath)/tmp/dead-writer.h5", contents: Data("x".utf8))

        let inspecting = try ArtifactStore(root: storePath, create: false, repairs: false)
        guard case .corruptOutput(role: "out", id: id, reason: _) = inspecting.status(run.key) else {
            return XCTFail("expected a corrupt output, got \(inspecting.status(run.key))")
        }
        XCTAssertEqual(try inspecting.verify().corrupt.map(\.id), [id])
        XCTAssertTrue(POSIX.exists(store.path(of: id)), "still in objects/")
        XCTAssertEqual(entries("\(storePath)/quarantine"), [])
        XCTAssertEqual(entries("\(storePath)/tmp"), ["dead-writer.h5"])

        // The repairing store (run, verify) still quarantines proven damage.
        guard case .corruptOutput = store.status(run.key) else { return XCTFail("\(store.status(run.key))") }
        XCTAssertFalse(POSIX.exists(store.path(of: id)))
    }
}

private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
