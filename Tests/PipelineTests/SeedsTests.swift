import Foundation
import XCTest
@testable import Pipeline
import Robustness
import Store

/// `seeds:` trains each model once per seed, reuses every stage already stored when a seed is
/// added, and the report shows the mean, the spread over seeds and a seeds × images interval.
final class SeedsTests: XCTestCase {
    /// Two models, one white-box attack: small enough to train twice in a test.
    func pipeline(seeds: String) -> String {
        """
        name: seeds
        data: {source: fashion-mnist, train_examples: 64, test_examples: 16}
        training: {epochs: 1, batch_size: 16, learning_rate: 0.05}
        \(seeds)
        models:
          - {name: plain, architecture: resnet8, widths: [4, 4, 8], defense: {kind: none}}
          - {name: pat, label: PAT, architecture: resnet8, widths: [4, 4, 8], defense: {kind: pat, attack: {epsilon: 0.1, step_size: 0.05, iterations: 1}}}
        attacks:
          - {name: fgsm, threat_models: [white-box], epsilons: [0.2], iterations: [1], step_size: 0.2, random_start: false}
        evaluation: {batch_size: 16}

        """
    }

    func testSeedsExpandIntoOneModelPerSeed() throws {
        let p = try PipelineDefinition.parse("""
            name: s
            data: {source: fashion-mnist}
            seeds: [0, 1, 2]
            models:
              - {name: a, architecture: resnet8, defense: {kind: none}}
              - {name: b, architecture: resnet8, defense: {kind: none}, seeds: [5]}
              - {name: c, architecture: resnet8, defense: {kind: none}, seed: 9}
            sources:
              - {name: src, architecture: resnet8, defense: {kind: none}}
            attacks:
              - {name: pgd, threat_models: [white-box, gray-box, black-box], black_box_source: src, epsilons: [0.1], iterations: [1], step_size: 0.1}
            """, file: "s.yaml")
        XCTAssertEqual(p.models.map(\.seeds), [[0, 1, 2], [5], [9]])
        XCTAssertEqual(p.sources.map(\.seeds), [[0]], "a source is trained once, whatever the top-level seeds")
        XCTAssertEqual(p.trainedModels.map(\.name), ["a#seed0", "a#seed1", "a#seed2", "b", "c", "src",
                                                     "a#seed0#gray", "a#seed1#gray", "a#seed2#gray", "b#gray", "c#gray"])
        XCTAssertEqual(p.trainedModels.map(\.seed), [0, 1, 2, 5, 9, 0, 1000, 1001, 1002, 1005, 1009])
        XCTAssertEqual(Set(p.replicates.map(\.row)), ["a", "b", "c"])
        let graph = try StageGraph(p)
        XCTAssertNotNil(graph.node("evaluate:a#seed2:pgd"))
        XCTAssertEqual(graph.node("evaluate:a#seed2:pgd")?.inputs["gray-box@0.1"]?.node, "attack:pgd:a#seed2#gray@0.1")
        // A replicate's training key is the one-seed model's: the name is not in it.
        let single = try PipelineDefinition.parse(pipeline(seeds: "seeds: [1]"), file: "one.yaml")
        let three = try PipelineDefinition.parse(pipeline(seeds: "seeds: [0, 1, 2]"), file: "three.yaml")
        let oneSeed = try XCTUnwrap(StageGraph(single).node("train:plain"))
        let replicate = try XCTUnwrap(StageGraph(three).node("train:plain#seed1"))
        XCTAssertEqual(try oneSeed.spec([:]).key(), try replicate.spec([:]).key())
    }

    func testBadSeedsAreRefusedWithTheKey() {
        func message(_ seeds: String, model: String = "") -> String {
            let text = """
                name: s
                data: {source: fashion-mnist}
                \(seeds)
                models:
                  - {name: a, architecture: resnet8, defense: {kind: none}\(model)}
                """
            do { _ = try PipelineDefinition.parse(text, file: "bad.yaml"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("seeds: []").contains("at least one seed"), message("seeds: []"))
        XCTAssertTrue(message("seeds: [1, 1]").contains("listed twice"), message("seeds: [1, 1]"))
        XCTAssertTrue(message("seeds: [0, -1]").contains("≥ 0"))
        XCTAssertTrue(message("", model: ", seed: 1, seeds: [1, 2]").contains("either seed or seeds"))
        XCTAssertTrue(message("seeds: [0, 1]", model: ", gray_box_seed: 5").contains("gray_box_seed"))
        XCTAssertTrue(message("seeds: [0, 1000]").contains("gray-box copy"))
        XCTAssertTrue(message("seeds: [0, 1]").contains("accepted"))
    }

    func testAddingASeedRerunsOnlyThatSeed() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        let dir = TemporaryDirectory()
        let store = try ArtifactStore(root: "\(dir.path)/store")
        func run(_ seeds: String) throws -> Set<String> {
            var options = RunOptions()
            options.reportDirectory = "\(dir.path)/report"
            let runner = try PipelineRunner(definition: try PipelineDefinition.load(dir.write("seeds.yaml", pipeline(seeds: seeds))),
                                            store: store, options: options, progress: ProgressDisplay(quiet: true))
            return Set(try runner.run().filter { $0.state == .computed }.map(\.node))
        }
        let first = try run("seeds: [0, 1]")
        XCTAssertTrue(first.isSuperset(of: ["train:plain#seed0", "train:plain#seed1", "train:pat#seed0", "train:pat#seed1"]))
        XCTAssertEqual(try run("seeds: [0, 1, 2]"), ["train:plain#seed2", "train:pat#seed2", "attack:fgsm:plain#seed2@0.2",
                                                     "attack:fgsm:pat#seed2@0.2", "evaluate:plain#seed2:fgsm", "evaluate:pat#seed2:fgsm", "report"])
        let report = try String(contentsOfFile: "\(dir.path)/report/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("| PAT | 0, 1, 2 |"), report)
        XCTAssertTrue(report.contains(" ± "), "mean ± standard deviation over seeds:\n\(report)")
        XCTAssertTrue(report.contains("over 3 training seeds"), report)
        let summary = try String(contentsOfFile: "\(dir.path)/report/table1-summary.csv", encoding: .utf8)
        XCTAssertEqual(summary.split(separator: "\n").count, 3, summary)
        XCTAssertTrue(summary.contains(",3,"), summary)
        XCTAssertTrue(summary.contains("bootstrap"), summary)
        // Back to one seed: seed 0's stages are all stored, so only the report changes.
        XCTAssertEqual(try run(""), ["report"])
    }

    /// Three seeds of a defense at 0.5, 0.6 and 0.7 on 100 images: mean 60.0, SD 10.0, range
    /// 50.0–70.0; the bootstrap interval holds the mean and is wider than one seed's Wilson interval
    /// at the same mean would be (the seed-to-seed spread is in it).
    func testCellsOverSeedsShowMeanSpreadAndInterval() {
        func evaluation(right: Int) -> AttackEvaluation {
            AttackEvaluation(threatModel: .whiteBox, epsilon: 0.1, stepSize: 0.02, restarts: 1, iterations: [10],
                             accuracies: [Float(right) / 100], cleanAccuracy: 0.9, examples: 100,
                             perImage: [(0..<100).map { Float($0 < right ? 1 : 0) }], cleanPerImage: (0..<100).map { Float($0 < 90 ? 1 : 0) })
        }
        let row = Report.Row(model: "atalp", label: "AT+ALP", defense: "atalp", attack: "pgd", evaluations: [evaluation(right: 50)],
                             checks: [], seeds: [0, 1, 2], replicates: [50, 60, 70].map { [evaluation(right: $0)] })
        let summary = row.summary(.whiteBox, 0.1)!
        XCTAssertEqual(summary.spread.mean, 0.6, accuracy: 1e-6)
        XCTAssertEqual(summary.spread.standardDeviation, 0.1, accuracy: 1e-6)
        XCTAssertEqual(summary.method, "bootstrap")
        XCTAssertLessThan(summary.interval.low, 0.6)
        XCTAssertGreaterThan(summary.interval.high, 0.6)
        let wilson = ConfidenceInterval.wilson(proportion: 0.6, trials: 100)
        XCTAssertGreaterThan(summary.interval.high - summary.interval.low, wilson.high - wilson.low)
        XCTAssertTrue(summary.text.hasPrefix("60.0 ± 10.0 (50.0–70.0) ["), summary.text)
        // Paired with a reference over the same seeds: the bootstrap over seeds × images, named so.
        let reference = Report.Row(model: "pat", label: "PAT", defense: "pat", attack: "pgd", evaluations: [evaluation(right: 40)],
                                   checks: [], seeds: [0, 1, 2], replicates: [40, 50, 60].map { [evaluation(right: $0)] })
        let comparison = PairedComparisons(rows: [reference, row], columns: [(.whiteBox, 0.1)], reference: nil)
        XCTAssertEqual(comparison.comparisons.first?.difference ?? 0, 0.1, accuracy: 1e-9)
        XCTAssertEqual(comparison.comparisons.first?.test, "bootstrap, 3 seeds")
        XCTAssertEqual(comparison.seeds, 3)
        // A difference no replicate crosses: the bootstrap's p is 0 of 2000, printed as a bound.
        let weak = Report.Row(model: "pat", label: "PAT", defense: "pat", attack: "pgd", evaluations: [evaluation(right: 10)],
                              checks: [], seeds: [0, 1, 2], replicates: [10, 20, 30].map { [evaluation(right: $0)] })
        let clear = PairedComparisons(rows: [weak, row], columns: [(.whiteBox, 0.1)], reference: nil)
        XCTAssertEqual(clear.comparisons.first?.pValue, 0)
        XCTAssertTrue(clear.markdown(attack: "pgd").contains("| < 0.0005 (bootstrap, 3 seeds) | < 0.0005 |"), clear.markdown(attack: "pgd"))
    }
}
