import Foundation
@testable import Robustness
import Store
import XCTest

/// The README's settings tables ("## Settings") against the types: each default as the type declares
/// it, and each defense key accepted by exactly the kinds the table names.
final class SettingsTableTests: XCTestCase {
    /// `| `key` | kinds | default | source |` rows of the README's Settings section.
    func readmeRows(file: StaticString = #filePath, line: UInt = #line) throws -> [(key: String, kinds: [String], value: String)] {
        let root = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "\n## Settings\n") else { XCTFail("README has no Settings section", file: file, line: line); return [] }
        let section = readme[start.upperBound...].prefix { _ in true }.components(separatedBy: "\n## ").first ?? ""
        return section.split(separator: "\n").compactMap { row in
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 5, cells[1].hasPrefix("`") else { return nil }
            return (cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`")),
                    cells[2].components(separatedBy: ", "), cells[3])
        }
    }

    static func text(_ d: Double) -> String { d.rounded() == d && abs(d) < 1e6 ? "\(Int(d))" : "\(d)" }

    /// The defaults as the types declare them, formatted as the table writes them.
    static var expected: [String: String] {
        typealias O = AdversarialObjective.Defaults
        typealias T = TrainingConfiguration.Defaults
        typealias P = PGDConfiguration.Defaults
        return [
            "attack.epsilon": "\(P.epsilon)", "attack.iterations": "\(P.iterations)", "attack.step_size": "2.5·ε/iterations",
            "attack.random_start": "\(P.randomStart)", "attack.restarts": "\(P.restarts)",
            "attack.method": TrainingAttackMethod.pgd.kind.rawValue, "attack.replays": "\(TrainingAttackMethod.Defaults.replays)",
            "trades_beta": text(TRADESObjective.Defaults.beta), "mart_lambda": text(MARTObjective.Defaults.lambda),
            "alpha": text(O.alpha), "beta": text(O.beta), "attention_groups": "all groups", "attention_norm": text(O.attentionNorm),
            "attention_exponent": text(O.attentionExponent), "clean_loss_weight": text(O.cleanLossWeight), "detach_clean": "\(O.detachClean)",
            "input_gradient_weight": text(InputGradientRegularization.Defaults.weight),
            "finite_difference_step": text(InputGradientRegularization.Defaults.finiteDifferenceStep),
            "noise_distribution": RandomizedAdversarialTraining.Defaults.noiseDistribution.rawValue,
            "noise_scale": text(RandomizedAdversarialTraining.Defaults.noiseScale),
            "randomization_size_ratio": InputRandomization.Defaults.sizeRatio == 331.0 / 299.0 ? "331/299" : text(InputRandomization.Defaults.sizeRatio),
            "eot_samples": "\(RandomizedInference.Defaults.eotSamples)", "inference_draws": "\(RandomizedInference.Defaults.inferenceDraws)",
            "denoising_groups": "all groups", "ensemble_size": "\(AdaptiveDiversityPromoting.Defaults.ensembleSize)",
            "adp_alpha": text(AdaptiveDiversityPromoting.Defaults.alpha), "adp_beta": text(AdaptiveDiversityPromoting.Defaults.beta),
            "adp_determinant_offset": text(AdaptiveDiversityPromoting.Defaults.determinantOffset),
            "epochs": "\(T.epochs)", "batch_size": "\(T.batchSize)", "learning_rate": text(T.learningRate), "schedule": T.schedule.rawValue,
            "step_milestones": T.stepMilestones.map(text).joined(separator: ", "), "step_gamma": text(T.stepGamma),
            "warmup_epochs": text(T.warmupEpochs), "optimizer": T.optimizer.rawValue, "momentum": text(T.momentum), "nesterov": "\(T.nesterov)",
            "weight_decay": text(T.weightDecay), "crop_padding": "\(T.cropPadding)", "flip": "\(T.horizontalFlip)",
            "validation_examples": "0", "validation_attack": "the training attack (fgsm, free: PGD-10 at its ε)",
        ]
    }

    func testReadmeDefaultsAreTheTypesDefaults() throws {
        let rows = try readmeRows()
        XCTAssertEqual(Set(rows.map(\.key)), Set(Self.expected.keys), "the README's rows and the settings differ")
        for row in rows { XCTAssertEqual(row.value, Self.expected[row.key], row.key) }
    }

    /// Each defense key is read by exactly the kinds the table lists (at its default value).
    func testReadmeKindsAreTheKindsThatReadEachKey() throws {
        let samples: [String: ParameterValue] = [
            "epsilon": 0.1, "iterations": 10, "step_size": 0.025, "random_start": true, "restarts": 1, "alpha": 0.5, "beta": 1.0,
            "attention_groups": [0], "attention_norm": 2.0, "attention_exponent": 2.0, "clean_loss_weight": 0.0, "detach_clean": false,
            "input_gradient_weight": 0.1, "finite_difference_step": 0.01, "noise_distribution": "gaussian", "noise_scale": 0.25,
            "randomization_size_ratio": 1.1, "eot_samples": 10, "inference_draws": 10, "denoising_groups": [0], "ensemble_size": 3,
            "adp_alpha": 2.0, "adp_beta": 0.5, "adp_determinant_offset": 1e-6, "method": "pgd", "replays": 8,
            "trades_beta": 6.0, "mart_lambda": 6.0,
        ]
        for row in try readmeRows() where !["all"].contains(row.kinds.first) {
            let parts = row.key.split(separator: ".").map(String.init)
            let sample = try XCTUnwrap(samples[parts.last!], row.key)
            for kind in Defense.Kind.allCases {
                // replays belong to free training: the sample names the method too.
                let setting: ParameterValue = parts.count == 2
                    ? .object(parts[1] == "replays" ? ["method": "free", "replays": sample] : [parts[1]: sample]) : sample
                let fields = try ParameterFields(.object(["kind": .string(kind.rawValue), parts[0]: setting]), source: "README")
                let read = (try? Defense(from: fields)) != nil
                XCTAssertEqual(read, row.kinds.contains(kind.rawValue), "\(row.key) for \(kind)")
            }
        }
    }
}
