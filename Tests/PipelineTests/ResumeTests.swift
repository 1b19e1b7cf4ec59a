import Foundation
import XCTest
@testable import Pipeline
import Store

/// SIGKILL in the middle of training leaves the last checkpoint; the rerun resumes from it and ends
/// with the same weights (the same artifact id) as a run that was never interrupted.
final class ResumeTests: XCTestCase {
    static let pipeline = """
        name: resume
        data: {source: fashion-mnist, train_examples: 512, test_examples: 16}
        training: {epochs: 2, batch_size: 16, learning_rate: 0.05, validation_examples: 32}
        models:
          - name: pat
            architecture: resnet8
            widths: [4, 8, 8]
            defense: {kind: pat, attack: {epsilon: 0.1, step_size: 0.05, iterations: 2}}

        """

    /// The atalp executable next to the test bundle (built by `swift build --build-tests`).
    var atalp: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("atalp").path
    }

    func launch(_ arguments: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: atalp)
        p.arguments = arguments
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    func trainedModel(_ storePath: String) throws -> ArtifactID {
        let store = try ArtifactStore(root: storePath, create: false)
        let record = try XCTUnwrap(try store.runRecords().first { $0.stage == "train" })
        return try XCTUnwrap(record.outputs["model"])
    }

    func testKilledTrainingResumesToTheSameWeights() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: atalp), "build the atalp executable first")
        let dir = TemporaryDirectory()
        let file = dir.write("resume.yaml", Self.pipeline)
        let interrupted = "\(dir.path)/interrupted", uninterrupted = "\(dir.path)/uninterrupted"
        let common = ["run", file, "--stage", "train", "--checkpoint-every-steps", "1", "--checkpoint-seconds", "1000"]

        let victim = try launch(common + ["--store", interrupted], log: "\(dir.path)/killed.log")
        // Wait for the first checkpoint in the work directory, then for a few more steps, then SIGKILL.
        let deadline = Date().addingTimeInterval(60)
        var resume: String?
        while Date() < deadline, victim.isRunning, resume == nil {
            let work = "\(interrupted)/work"
            resume = (try? FileManager.default.contentsOfDirectory(atPath: work))?.lazy
                .map { "\(work)/\($0)/resume.h5" }.first { FileManager.default.fileExists(atPath: $0) }
            usleep(5_000)
        }
        usleep(300_000)
        XCTAssertTrue(victim.isRunning, "training ended before it could be killed; make it longer")
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        XCTAssertEqual(victim.terminationReason, .uncaughtSignal)
        XCTAssertNotNil(resume, "no checkpoint was written before the kill")
        XCTAssertTrue(try ArtifactStore(root: interrupted, create: false).runRecords().allSatisfy { $0.stage != "train" })

        let rerun = try launch(common + ["--store", interrupted], log: "\(dir.path)/rerun.log")
        rerun.waitUntilExit()
        XCTAssertEqual(rerun.terminationStatus, 0)
        let log = try String(contentsOfFile: "\(dir.path)/rerun.log", encoding: .utf8)
        XCTAssertTrue(log.contains("resuming at step"), log)

        let clean = try launch(common + ["--store", uninterrupted], log: "\(dir.path)/clean.log")
        clean.waitUntilExit()
        XCTAssertEqual(clean.terminationStatus, 0)

        let a = try trainedModel(interrupted), b = try trainedModel(uninterrupted)
        let weights = { (root: String, id: ArtifactID) throws -> [Float] in
            try ArtifactStore(root: root, create: false).read(id) { try $0.readFloat32("fc.weight") }
        }
        XCTAssertEqual(try weights(interrupted, a), try weights(uninterrupted, b))
        XCTAssertEqual(a, b, "weights, buffers, optimiser state and training log are identical")
    }
}
