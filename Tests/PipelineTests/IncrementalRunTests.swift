import Foundation
import XCTest
@testable import Pipeline
import Store

/// The pipeline reruns exactly what changed: nothing on a second run, one attack and what reads it
/// when its ε changes, one model (and its gray-box copy) and what reads it when β changes.
final class IncrementalRunTests: XCTestCase {
    func run(_ text: String, _ dir: TemporaryDirectory, _ store: ArtifactStore) throws -> (computed: Set<String>, runner: PipelineRunner) {
        let file = dir.write("tiny.yaml", text)
        var options = RunOptions()
        options.reportDirectory = "\(dir.path)/report"
        let runner = try PipelineRunner(definition: try PipelineDefinition.load(file), store: store, options: options,
                                        progress: ProgressDisplay(quiet: true))
        let states = try runner.run()
        return (Set(states.filter { $0.state == .computed }.map(\.node)), runner)
    }

    func testIncrementalReruns() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        let dir = TemporaryDirectory()
        let store = try ArtifactStore(root: "\(dir.path)/store")

        // 1. From an empty store, everything runs.
        let first = try run(tinyPipeline, dir, store)
        XCTAssertEqual(first.computed.count, 19)
        for file in ["report.md", "index.html", "table1.csv", "results.csv", "figure3-pgd-gray-box-eps0.1.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir.path)/report/\(file)"), file)
        }
        let table = try String(contentsOfFile: "\(dir.path)/report/report.md", encoding: .utf8)
        XCTAssertTrue(table.contains("| AT+ALP |"), table)
        XCTAssertTrue(table.contains("white-box ε=0.1 | gray-box ε=0.1 | black-box ε=0.1"), table)

        // 2. Again: nothing runs, and status says every stage is fresh.
        let started = Date()
        let second = try run(tinyPipeline, dir, store)
        XCTAssertEqual(second.computed, [])
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertTrue(second.runner.status().allSatisfy { $0.state == .fresh })

        // 3. One attack's ε: that attack's sets, its evaluations and the report.
        let epsilon = tinyPipeline.replacingOccurrences(of: "epsilons: [0.2]", with: "epsilons: [0.3]")
        let third = try run(epsilon, dir, store)
        XCTAssertEqual(third.computed, ["attack:fgsm:plain@0.3", "attack:fgsm:atalp@0.3", "evaluate:plain:fgsm",
                                        "evaluate:atalp:fgsm", "report"])

        // 4. AT+ALP's β: status names it; the model, its gray-box copy and what reads them rerun.
        let beta = epsilon.replacingOccurrences(of: "beta: 1.0", with: "beta: 2.0")
        let file = dir.write("tiny.yaml", beta)
        let status = try PipelineRunner(definition: try PipelineDefinition.load(file), store: store,
                                        progress: ProgressDisplay(quiet: true)).status()
        let train = try XCTUnwrap(status.first { $0.node == "train:atalp" })
        XCTAssertEqual(train.state, .stale)
        XCTAssertEqual(train.detail, ["changed params: defense.beta (1 → 2)"])
        XCTAssertEqual(status.first { $0.node == "train:plain" }?.state, .fresh)
        XCTAssertTrue(status.first { $0.node == "evaluate:atalp:pgd" }?.detail.last?.hasPrefix("input from stale stage") ?? false)
        let fourth = try run(beta, dir, store)
        XCTAssertEqual(fourth.computed, ["train:atalp", "train:atalp#gray", "attack:pgd:atalp@0.1", "attack:pgd:atalp#gray@0.1",
                                         "attack:fgsm:atalp@0.3", "evaluate:atalp:pgd", "evaluate:atalp:fgsm", "report"])
    }

    func testDryRunAndStageSelectionComputeOnlyWhatIsAsked() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        let dir = TemporaryDirectory()
        let store = try ArtifactStore(root: "\(dir.path)/store")
        let file = dir.write("tiny.yaml", tinyPipeline)
        var options = RunOptions()
        options.dryRun = true
        let dry = try PipelineRunner(definition: try PipelineDefinition.load(file), store: store, options: options,
                                     progress: ProgressDisplay(quiet: true)).run()
        XCTAssertEqual(dry.count, 19)
        XCTAssertTrue(dry.allSatisfy { $0.state == .stale })
        XCTAssertTrue(try store.runRecords().isEmpty, "a dry run computes nothing")
        options.dryRun = false
        options.stages = ["train:plain"]
        let states = try PipelineRunner(definition: try PipelineDefinition.load(file), store: store, options: options,
                                        progress: ProgressDisplay(quiet: true)).run()
        XCTAssertEqual(Set(states.map(\.node)), ["ingest", "preprocess", "train:plain"])
    }
}

/// `--jobs 2`: independent stages side by side reach the same artifacts as one at a time.
final class ParallelRunTests: XCTestCase {
    func testTwoJobsComputeTheSameOutputs() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        let dir = TemporaryDirectory()
        let file = dir.write("tiny.yaml", tinyPipeline)
        var outputs: [[String: [String: ArtifactID]]] = []
        for jobs in [1, 2] {
            var options = RunOptions()
            options.jobs = jobs
            options.reportDirectory = "\(dir.path)/report-\(jobs)"
            let states = try PipelineRunner(definition: try PipelineDefinition.load(file), store: try ArtifactStore(root: "\(dir.path)/store-\(jobs)"),
                                            options: options, progress: ProgressDisplay(quiet: true)).run()
            XCTAssertEqual(states.filter { $0.state == .computed }.count, 19)
            outputs.append(Dictionary(uniqueKeysWithValues: states.map { ($0.node, $0.outputs) }))
        }
        XCTAssertEqual(outputs[0], outputs[1])
    }
}
