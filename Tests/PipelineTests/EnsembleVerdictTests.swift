import Foundation
import XCTest
@testable import Pipeline
import Store

/// `kind: ensemble` runs the APGD/Square ensemble as one more attack, and the report sets its
/// white-box accuracy against PGD's in a gradient-masking verdict.
final class EnsembleVerdictTests: XCTestCase {
    func testEnsembleAttackAndVerdictInReport() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        let text = """
            name: verdict
            data: {source: fashion-mnist, train_examples: 64, test_examples: 8}
            training: {epochs: 1, batch_size: 16}
            models:
              - {name: plain, architecture: resnet8, widths: [4, 4, 8], defense: {kind: none}}
            attacks:
              - {name: pgd, epsilons: [0.1], iterations: [1, 2], step_size: 0.05}
              - {name: aa, kind: ensemble, epsilons: [0.1], iterations: [2], step_size: 0.05}

            """
        let dir = TemporaryDirectory()
        let file = dir.write("verdict.yaml", text)
        var options = RunOptions()
        options.reportDirectory = "\(dir.path)/report"
        let runner = try PipelineRunner(definition: try PipelineDefinition.load(file), store: try ArtifactStore(root: "\(dir.path)/store"),
                                        options: options, progress: ProgressDisplay(quiet: true))
        let states = try runner.run()
        XCTAssertTrue(states.contains { $0.node == "attack:aa:plain@0.1" && $0.state == .computed })
        let report = try String(contentsOfFile: "\(dir.path)/report/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("## Gradient-masking verdict"), report)
        XCTAssertTrue(report.contains("plain (ε=0.1)"), report)
    }
}
