import Foundation
import XCTest
@testable import Pipeline
import Robustness
import Store

/// Issue 16: `checkpoint: best` picks by what the model was trained for — clean validation accuracy
/// for no defense, Randomization, IGR and ADP, robust accuracy for adversarially trained models —
/// and the log, the checkpoint and the report say which; a model trained without an attack logs no
/// robust number; progress counts steps per epoch, as the run announces them.
final class CheckpointSelectionTests: XCTestCase {
    func testCriterionFollowsWhatTheModelWasTrainedFor() throws {
        let p = try PipelineDefinition.parse(tinyPipeline, file: "p.yaml")
        var model = p.models[1]   // trained with PGD-2, so a validation attack runs when the kind is adversarial
        let attack = try XCTUnwrap(model.defense.adversarialTraining?.attack)
        for kind in [Defense.Kind.none, .randomization, .igr, .adp] {
            model.defense = .defaults(kind, attack: attack)
            XCTAssertEqual(TrainStage.selection(model), .clean, "\(kind)")
        }
        for kind in [Defense.Kind.pat, .alp, .at, .atalp, .rat, .fd] {
            model.defense = .defaults(kind, attack: attack)
            XCTAssertEqual(TrainStage.selection(model), .robust, "\(kind)")
        }
        // The case: epoch 1 has 35 % clean (but "more robust"), the last 69 % clean.
        var clean = TrainingLog(selection: .clean)
        clean.validate(epoch: 0, clean: 0.35, robust: nil)
        clean.validate(epoch: 1, clean: 0.69, robust: nil)
        XCTAssertEqual(clean.bestEpoch, 1)
        XCTAssertEqual(clean.robust, [], "no robust accuracy where no attack ran")
        var robust = TrainingLog(selection: .robust)
        robust.validate(epoch: 0, clean: 0.35, robust: 0.30)
        robust.validate(epoch: 1, clean: 0.69, robust: 0.10)
        XCTAssertEqual(robust.bestEpoch, 0)
    }

    /// A two-epoch run of an undefended and an AT+ALP model, its log read back.
    func testTrainingLogSaysWhichCriterionPickedTheCheckpoint() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        let dir = TemporaryDirectory()
        let store = try ArtifactStore(root: "\(dir.path)/store")
        let file = dir.write("tiny.yaml", tinyPipeline.replacingOccurrences(of: "  epochs: 1\n", with: "  epochs: 2\n"))
        final class Log: @unchecked Sendable {
            let lock = NSLock()
            var text = ""
            func add(_ s: String) { lock.lock(); text += s; lock.unlock() }
        }
        let log = Log()
        var options = RunOptions()
        options.stages = ["train:plain", "train:atalp"]
        let runner = try PipelineRunner(definition: try PipelineDefinition.load(file), store: store, options: options,
                                        progress: ProgressDisplay(interactive: false, logInterval: 0, sink: { log.add($0) }))
        let states = try runner.run()
        let lines = log.text.split(separator: "\n").map(String.init)

        // 96 training images − 16 held out = 80, in batches of 16: 2 epochs × 5 steps.
        XCTAssertTrue(lines.contains { $0.hasPrefix("train:plain: resnet8") && $0.contains("2 epochs × 5 steps") }, log.text)
        let steps = lines.filter { $0.hasPrefix("train:plain epoch ") }
        XCTAssertEqual(steps.count, 10, log.text)
        for line in steps {
            let fields = line.split(separator: " ")
            XCTAssertEqual(fields[3], "step")
            XCTAssertTrue(fields[4].hasSuffix("/5"), "steps counted per epoch: \(line)")
        }
        XCTAssertTrue(steps.last!.hasPrefix("train:plain epoch 2/2 step 5/5"), steps.last!)

        let plain = lines.filter { $0.hasPrefix("train:plain: epoch ") }
        XCTAssertEqual(plain.count, 2, log.text)
        for line in plain {
            XCTAssertTrue(line.contains("validation accuracy"), line)
            XCTAssertFalse(line.contains("robust"), "no attack ran, so no robust number: \(line)")
        }
        let plainBest = try XCTUnwrap(lines.first { $0.hasPrefix("train:plain: best checkpoint: epoch ") }, log.text)
        XCTAssertTrue(plainBest.contains("picked by clean validation accuracy"), plainBest)
        let atalpBest = try XCTUnwrap(lines.first { $0.hasPrefix("train:atalp: best checkpoint: epoch ") }, log.text)
        XCTAssertTrue(atalpBest.contains("picked by robust validation accuracy"), atalpBest)
        XCTAssertTrue(lines.contains { $0.hasPrefix("train:atalp: epoch 1/2: validation accuracy") && $0.contains("% robust") }, log.text)

        // The best checkpoint records the criterion, and is the epoch with the highest clean accuracy.
        let outputs = try XCTUnwrap(states.first { $0.node == "train:plain" }?.outputs)
        let (selection, epoch, clean, hasRobust) = try store.read(outputs["best"]!) { r in
            (try r.attribute("selection")?.stringValue, try r.attribute("epoch")?.intValue,
             try r.readFloat32("validation/clean_accuracy"), try r.datasetPaths().contains("validation/robust_accuracy"))
        }
        XCTAssertEqual(selection, "clean")
        XCTAssertEqual(epoch.map(Int.init), clean.indices.max { clean[$0] < clean[$1] || (clean[$0] == clean[$1] && $0 > $1) })
        XCTAssertFalse(hasRobust)
        let atalp = try XCTUnwrap(states.first { $0.node == "train:atalp" }?.outputs)
        XCTAssertEqual(try store.read(atalp["best"]!) { try $0.attribute("selection")?.stringValue }, "robust")

        // `atalp evaluate` on that checkpoint names the defense as a person would, not as JSON.
        let bundle = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let binary = URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("atalp").path
        if FileManager.default.isExecutableFile(atPath: binary) {
            let checkpoint = store.path(of: atalp["best"]!)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["evaluate", checkpoint, "--test-limit", "16", "--iterations", "1", "--batch-size", "16"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertTrue(output.hasPrefix("\(checkpoint) (resnet8, defense AT+ALP): clean accuracy "), output)
        }

        // And the report says so.
        guard case .array(let items)? = runner.graph.node("report")?.parameters["notes"] else { return XCTFail("no report notes") }
        let notes = items.compactMap { item -> String? in if case .string(let s) = item { s } else { nil } }
        XCTAssertTrue(notes.contains("plain: resnet8, defense none, 2 epochs, seed 0; best checkpoint by clean validation accuracy"), "\(notes)")
        XCTAssertTrue(notes.contains("atalp: resnet8, defense atalp, 2 epochs, seed 0; best checkpoint by robust validation accuracy"), "\(notes)")
    }
}
