import Foundation
import XCTest
@testable import Pipeline
import NN
import Robustness
import Store

/// Every defense kind from a pipeline file to `atalp evaluate`: the train stage's checkpoint holds the
/// defense the file says (`ModelCheckpoint`), and `atalp evaluate` on that checkpoint rebuilds the
/// same model — randomisation, ensembles and denoising blocks included — and gives exactly the
/// numbers of the pipeline's evaluate stage (white-box PGD with EOT, mean over inference draws).
final class EvaluateCommandAgreementTests: XCTestCase {
    static let pipeline = """
        name: kinds
        data: {source: fashion-mnist, train_examples: 64, test_examples: 16}
        training: {epochs: 1, batch_size: 16, learning_rate: 0.05}
        defense:
          attack: {epsilon: 0.1, step_size: 0.05, iterations: 2}
          eot_samples: 2
          inference_draws: 3
        models:
          - {name: none, architecture: resnet8, widths: [4, 4, 8], defense: {kind: none}}
          - {name: pat, architecture: resnet8, widths: [4, 4, 8], defense: {kind: pat}}
          - {name: alp, architecture: resnet8, widths: [4, 4, 8], defense: {kind: alp, alpha: 0.3}}
          - {name: at, architecture: resnet8, widths: [4, 4, 8], defense: {kind: at, beta: 2.0, attention_groups: [1, 2]}}
          - {name: atalp, architecture: resnet8, widths: [4, 4, 8], defense: {kind: atalp}}
          - {name: igr, architecture: resnet8, widths: [4, 4, 8], defense: {kind: igr, input_gradient_weight: 0.2}}
          - {name: rat, architecture: resnet8, widths: [4, 4, 8], defense: {kind: rat, noise_scale: 0.1}}
          - {name: randomization, architecture: resnet8, widths: [4, 4, 8], defense: {kind: randomization}}
          - {name: fd, architecture: resnet8, widths: [4, 4, 8], defense: {kind: fd, denoising_groups: [2]}}
          - {name: adp, architecture: resnet8, widths: [4, 4, 8], defense: {kind: adp, ensemble_size: 2}}
          - {name: trades, architecture: resnet8, widths: [4, 4, 8], defense: {kind: trades, trades_beta: 3.0, attack: {method: fgsm, iterations: 1, step_size: 0.125}}}
          - {name: mart, architecture: resnet8, widths: [4, 4, 8], defense: {kind: mart, attack: {method: free, iterations: 1, replays: 2}}}
        attacks:
          - {name: pgd, threat_models: [white-box], epsilons: [0.1], iterations: [1, 2], step_size: 0.05}
        evaluation: {batch_size: 16}

        """

    struct Row: Decodable {
        var attack: String
        var accuracies: [Float]
        var cleanAccuracy: Float
    }

    func atalp(_ arguments: [String]) throws -> String { try runAtalp(arguments) }

    func testEveryKindEvaluatesAsThePipelineDoes() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        let dir = TemporaryDirectory()
        let store = try ArtifactStore(root: "\(dir.path)/store")
        let definition = try PipelineDefinition.load(dir.write("kinds.yaml", Self.pipeline))
        XCTAssertEqual(Set(definition.models.map(\.defense.kind)), Set(Defense.Kind.allCases))
        let states = try PipelineRunner(definition: definition, store: store, progress: ProgressDisplay(quiet: true)).run()
        func output(_ node: String, _ role: String) throws -> ArtifactID {
            try XCTUnwrap(states.first { $0.node == node }?.outputs[role], "\(node) \(role)")
        }
        for model in definition.models {
            let checkpoint = store.path(of: try output("train:\(model.name)", "model"))
            let loaded = try ModelCheckpoint.load(checkpoint)
            XCTAssertEqual(loaded.defense, model.defense, model.name)
            XCTAssertEqual(loaded.model is any RandomizedClassifier, model.defense.isRandomized, model.name)
            let stage = try EvaluateStage.read(try output("evaluate:\(model.name):pgd", "evaluation"), in: store).evaluations[0]
            let json = try atalp(["evaluate", checkpoint, "--json", "--attack", "pgd", "--epsilon", "0.1", "--iterations", "1", "2",
                                  "--step-size", "0.05", "--test-limit", "16", "--batch-size", "16", "--seed", "0"])
            XCTAssertFalse(json.hasPrefix("exit "), "\(model.name): \(json)")
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let row = try decoder.decode(Row.self, from: Data(json.split(separator: "\n").first { $0.contains("\"pgd\"") }.map(String.init)?.utf8 ?? "".utf8))
            XCTAssertEqual(row.cleanAccuracy, stage.cleanAccuracy, "\(model.name): clean")
            XCTAssertEqual(row.accuracies, stage.accuracies, "\(model.name): PGD-1, PGD-2")
        }
    }
}
