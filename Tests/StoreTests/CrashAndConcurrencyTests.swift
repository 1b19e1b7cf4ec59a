import Foundation
import XCTest
@testable import Store

final class CrashAndConcurrencyTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws { dir = try TestDirectory.make("crash") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func files(_ sub: String) -> [String] {
        let root = "\(dir!)/store/\(sub)"
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        return e.compactMap { $0 as? String }.filter { !POSIX.isDirectory("\(root)/\($0)") }
    }

    /// SIGKILL a writer in the middle of a large artifact: no partial artifact, no run record, the lock
    /// is free, and the next run recomputes and publishes it.
    func testKilledWriterLeavesNoPartialArtifactAndNextRunRecomputes() throws {
        let storePath = "\(dir!)/store"
        let store = try ArtifactStore(root: storePath)
        let key = try StoreTorture.spec(seed: 7, megabytes: 24).key()
        let child = try Child.start(store: storePath, seed: 7, megabytes: 24, pause: 0.05)
        // Kill it once the temp file has grown past a few datasets.
        let growing = waitFor(20) {
            self.files("tmp").contains { (ArtifactStore.stamp("\(storePath)/tmp/\($0)")?.size ?? 0) > 3 << 20 }
        }
        XCTAssertTrue(growing, "the child never started writing")
        child.kill()

        XCTAssertEqual(files("objects"), [], "no artifact was published")
        XCTAssertEqual(files("runs"), [], "no run was recorded")
        XCTAssertEqual(store.status(key), .neverRun)
        XCTAssertFalse(files("tmp").isEmpty, "the killed writer's temp file is still there")
        XCTAssertNotNil(FileLock.tryAcquire(store.keyLockPath(key), .exclusive),
                        "the dead holder's key lock was released by the kernel at once")

        // The next run gets the lock at once (the dead holder's flock died with it), sweeps tmp/ and recomputes.
        let reopened = try ArtifactStore(root: storePath)
        XCTAssertEqual(files("tmp"), [], "opening the store swept the dead writer's temp file")
        let result = try StoreTorture.run(store: reopened, seed: 7, megabytes: 24, lockTimeout: 5)
        XCTAssertTrue(result.computed)
        XCTAssertEqual(reopened.lookup(key), result.outputs)
        XCTAssertEqual(try reopened.verify().corrupt.count, 0)
        XCTAssertEqual(try reopened.read(result.outputs["data"]!) { try $0.datasetPaths().count }, 24)
    }

    /// Two processes start the same key at once: one computes, the other waits and reuses its output.
    func testTwoProcessesOnOneKeyComputeOnce() throws {
        let storePath = "\(dir!)/store"
        _ = try ArtifactStore(root: storePath)
        let marker = "\(dir!)/computed"
        let a = try Child.start(store: storePath, seed: 3, megabytes: 4, pause: 0.1, marker: marker)
        let b = try Child.start(store: storePath, seed: 3, megabytes: 4, pause: 0.1, marker: marker)
        let results = [a.finish(), b.finish()].compactMap { $0 }
        XCTAssertEqual(results.count, 2)
        XCTAssertEqual(results.filter { $0.hasPrefix("computed=true") }.count, 1, "\(results)")
        XCTAssertEqual(results.filter { $0.hasPrefix("computed=false") }.count, 1, "\(results)")
        XCTAssertEqual(Set(results.map { $0.split(separator: " ")[1] }).count, 1, "both report the same output")
        let computeMarkers = try FileManager.default.contentsOfDirectory(atPath: dir!).filter { $0.hasPrefix("computed.") }
        XCTAssertEqual(computeMarkers.count, 1, "exactly one process ran the computation")
    }

    /// Threads of one process are serialized by the same key lock.
    func testThreadsOnOneKeyComputeOnce() throws {
        let store = try ArtifactStore(root: "\(dir!)/store")
        final class Counter: @unchecked Sendable {
            let lock = NSLock()
            var value = 0
            var computed = 0
        }
        let counter = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let result = try? StoreTorture.run(store: store, seed: 11, megabytes: 1, lockTimeout: 10) {
                counter.lock.lock(); counter.value += 1; counter.lock.unlock()
                Thread.sleep(forTimeInterval: 0.1)
            }
            counter.lock.lock(); if result?.computed == true { counter.computed += 1 }; counter.lock.unlock()
        }
        XCTAssertEqual(counter.value, 1)
        XCTAssertEqual(counter.computed, 1)
    }

    /// gc never sweeps what a running stage has put but not yet recorded: it waits for the writer.
    func testGCWaitsForARunningWriter() throws {
        let storePath = "\(dir!)/store"
        let store = try ArtifactStore(root: storePath)
        let marker = "\(dir!)/computing"
        let child = try Child.start(store: storePath, seed: 5, megabytes: 6, pause: 0.1, marker: marker)
        XCTAssertTrue(waitFor(20) {
            ((try? FileManager.default.contentsOfDirectory(atPath: self.dir!)) ?? []).contains { $0.hasPrefix("computing.") }
        })
        XCTAssertThrowsError(try store.gc(timeout: 0.2)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(storePath)/lock: timed out waiting for the lock"), "\(error)")
        }
        let result = try XCTUnwrap(child.finish())
        XCTAssertTrue(result.hasPrefix("computed=true"), result)
        let key = try StoreTorture.spec(seed: 5, megabytes: 6).key()
        XCTAssertNotNil(store.lookup(key), "the output survived the attempted gc")
        XCTAssertEqual(try store.gc(roots: GCRoots(keys: [key])).removedArtifacts.count, 0)
    }
}
