import Autodiff
import Foundation
import NN
@testable import Robustness
import Store
import Tensors
import XCTest

/// The one codec of a defense (`Defense+Settings.swift`) and the one checkpoint format (`ModelCheckpoint`).
final class DefenseSettingsTests: XCTestCase {
    static let tiny = ResNetConfiguration(family: .smallImage, block: .basic, blocksPerGroup: [1, 1], widths: [4, 8], inputChannels: 1, classes: 10)
    static let attack = PGDConfiguration(epsilon: 0.1, stepSize: 0.04, iterations: 3)

    /// One defense of every kind, with settings away from their defaults.
    static var everyKind: [Defense] {
        [.none, .adversarial(.pat(attack: attack)), .adversarial(.alp(alpha: 0.3, attack: attack)), .adversarial(.at(beta: 2, attack: attack)),
         .adversarial(AdversarialObjective(preset: .atalp, attack: attack, alpha: 0.5, beta: 1, attentionGroups: [1], attentionExponent: 1,
                                           cleanLossWeight: 0.25, detachClean: true)),
         .igr(InputGradientRegularization(weight: 0.3, finiteDifferenceStep: 0.02)),
         .rat(RandomizedAdversarialTraining(training: .pat(attack: attack), noiseDistribution: .laplace, noiseScale: 0.1,
                                            inference: RandomizedInference(eotSamples: 5, inferenceDraws: 3))),
         .randomization(InputRandomization(sizeRatio: 1.2, inference: RandomizedInference(eotSamples: 2, inferenceDraws: 4))),
         .fd(FeatureDenoisingTraining(training: .pat(attack: attack), denoisingGroups: [1])),
         .adp(AdaptiveDiversityPromoting(ensembleSize: 2, alpha: 1, beta: 0.25)),
         .trades(TRADESObjective(attack: attack, beta: 3)),
         .mart(MARTObjective(attack: PGDConfiguration(epsilon: 0.1, stepSize: 0.125, iterations: 1), method: .fgsm, lambda: 4)),
         .adversarial(AdversarialObjective(preset: .atalp, attack: PGDConfiguration(epsilon: 0.1, stepSize: 0.1, iterations: 1, randomStart: false),
                                           method: .free(replays: 4)))]
    }

    func decode(_ json: String, strict: Bool = true) throws -> Defense {
        try Defense(from: try ParameterFields(json: json, source: "test", strict: strict))
    }

    func testEveryKindRoundTripsThroughItsEncoding() throws {
        XCTAssertEqual(Set(Self.everyKind.map(\.kind)), Set(Defense.Kind.allCases))
        for d in Self.everyKind {
            XCTAssertEqual(try decode(d.parameters.canonicalJSON), d, "\(d.kind)")
            XCTAssertEqual(try decode(Defense.defaults(d.kind).parameters.canonicalJSON), Defense.defaults(d.kind), "\(d.kind) defaults")
        }
    }

    /// The keys of stage keys made before the codec existed (read from a store built by the earlier
    /// version): the same defense must encode to the same text, or every model would retrain.
    func testEncodingKeepsTheKeysOfEarlierVersions() {
        XCTAssertEqual(Defense.adversarial(.pat(attack: Self.attack)).parameters.canonicalJSON,
                       #"{"alpha":0.0,"attack":{"epsilon":0.10000000149011612,"iterations":3,"random_start":true,"restarts":1,"step_size":0.03999999910593033},"beta":0.0,"clean_loss_weight":0.0,"detach_clean":false,"kind":"pat"}"#)
        XCTAssertEqual(Defense.adversarial(.alp(alpha: 0.5, attack: Self.attack)).parameters.canonicalJSON,
                       #"{"alpha":0.5,"attack":{"epsilon":0.10000000149011612,"iterations":3,"random_start":true,"restarts":1,"step_size":0.03999999910593033},"beta":0.0,"clean_loss_weight":0.0,"detach_clean":false,"kind":"alp"}"#)
        XCTAssertEqual(Defense.none.parameters.canonicalJSON, #"{"kind":"none"}"#)
        XCTAssertEqual(Defense.defaults(.adp).parameters.canonicalJSON, #"{"adp_alpha":2.0,"adp_beta":0.5,"ensemble_size":3,"kind":"adp"}"#)
    }

    func testDecodingIsStrictAndNamesTheKey() {
        func message(_ json: String) -> String {
            do { _ = try decode(json); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(#"{"kind": "pat", "alpha": 0.5}"#), "test: alpha: PAT has no logit-pairing term (use kind alp or atalp)")
        XCTAssertEqual(message(#"{"kind": "alp", "alpha": 0}"#),
                       "test: alpha: must be > 0 for ALP (alpha = 0 leaves out its term: use another kind)")
        XCTAssertTrue(message(#"{"kind": "rat", "denoising_groups": [1]}"#).hasPrefix("test: denoising_groups: unknown key 'denoising_groups'"))
        XCTAssertEqual(message(#"{"kind": "adp", "ensemble_size": 0}"#), "test: ensemble_size: must be at least 1")
        XCTAssertEqual(message(#"{"kind": "pat", "attack": {"restarts": 0}}"#), "test: attack.restarts: must be at least 1")
        XCTAssertEqual(message(#"{"kind": "fgsm"}"#),
                       "test: kind: unknown value 'fgsm' (expected one of: adp, alp, at, atalp, fd, igr, mart, none, pat, randomization, rat, trades)")
    }

    /// One rule wherever no step size is given: 2.5·ε/iterations (ε/4 at 10 iterations, ε/8 at 20), ε for one step.
    func testTheStepSizeRule() throws {
        XCTAssertEqual(PGDConfiguration.defaultStepSize(epsilon: 0.1, iterations: 10), 0.025)
        XCTAssertEqual(PGDConfiguration.defaultStepSize(epsilon: 0.2, iterations: 20), 0.025)
        XCTAssertEqual(PGDConfiguration.defaultStepSize(epsilon: 0.3, iterations: 1), 0.3)
        let pat = try decode(#"{"kind": "pat", "attack": {"epsilon": 0.2, "iterations": 5}}"#)
        XCTAssertEqual(pat.adversarialTraining?.attack.stepSize, 0.1)
        XCTAssertEqual(AdversarialObjective.defaultAttack.stepSize, PGDConfiguration.defaultStepSize(epsilon: 0.1, iterations: 10))
    }

    // MARK: Checkpoints

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atalp-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// Every kind saved by the one writer loads as the same defense and the same function.
    func testEveryKindRoundTripsThroughACheckpoint() throws {
        let dir = try temporaryDirectory()
        var rng = SeededRandom(seed: 3)
        let x = Tensor.uniform(shape: [2, 1, 28, 28], using: &rng)
        for d in Self.everyKind {
            let model = d.makeModel(architecture: Self.tiny, seed: 5)
            for p in model.parameters { p.value = p.value.map { $0 + 0.01 } }
            let path = dir.appendingPathComponent("\(d.kind).h5").path
            try ModelCheckpoint.save(model, architecture: Self.tiny, defense: d, attributes: ["epochs": .int(1)], to: path)
            let loaded = try ModelCheckpoint.load(path)
            XCTAssertEqual(loaded.defense, d)
            XCTAssertEqual(loaded.architecture, Self.tiny)
            XCTAssertEqual(loaded.attributes["format_version"]?.intValue, 2)
            XCTAssertEqual(type(of: loaded.model) == type(of: model), true, "\(d.kind)")
            for m in [model, loaded.model] { (m as? any RandomizedClassifier)?.reseed(9) }
            XCTAssertEqual(logits(model, x), logits(loaded.model, x), "\(d.kind)")
        }
    }

    /// Format-1 checkpoints, as the pipeline and `atalp train` wrote them before this format: they load
    /// as the defense they were, or fail naming the file and the reason — never as "no defense".
    func testCheckpointsOfEarlierVersionsLoadOrFailClearly() throws {
        let dir = try temporaryDirectory()
        let architecture = String(decoding: try JSONEncoder().encode(Self.tiny), as: UTF8.self)
        func write(_ defense: Defense, _ attributes: [String: HDF5Attribute]) throws -> String {
            let path = dir.appendingPathComponent("\(UUID().uuidString).h5").path
            try Checkpoint.save(defense.makeModel(architecture: Self.tiny, seed: 1), architecture: architecture, metadata: attributes, to: path)
            return path
        }
        // The pipeline's train stage: `defense` = DefenseConfiguration's camelCase JSON (texts from a store of that version).
        let pat = #"{"alpha":0,"attack":{"epsilon":0.1,"iterations":3,"randomStart":true,"restarts":1,"stepSize":0.04,"targeted":false},"attentionExponent":2,"attentionNorm":2,"beta":0,"cleanLossWeight":0,"detachClean":false,"kind":"pat"}"#
        XCTAssertEqual(try ModelCheckpoint.load(try write(.none, ["defense": .string(pat)])).defense, .adversarial(.pat(attack: Self.attack)))
        let none = #"{"alpha":0,"attack":{"epsilon":0,"iterations":0,"randomStart":true,"restarts":1,"stepSize":0,"targeted":false},"attentionExponent":2,"attentionNorm":2,"beta":0,"cleanLossWeight":0,"detachClean":false,"kind":"none"}"#
        XCTAssertEqual(try ModelCheckpoint.load(try write(.none, ["defense": .string(none)])).defense, .none)
        // `atalp train`: the kind's name beside the JSON.
        let rat = Defense.rat(RandomizedAdversarialTraining(training: .pat(attack: Self.attack), noiseDistribution: .laplace, noiseScale: 0.1,
                                                            inference: RandomizedInference(eotSamples: 5, inferenceDraws: 10)))
        let ratJSON = #"{"alpha":0,"attack":{"epsilon":0.1,"iterations":3,"randomStart":true,"restarts":1,"stepSize":0.04,"targeted":false},"attentionExponent":2,"attentionNorm":2,"beta":0,"cleanLossWeight":0,"detachClean":false,"eotSamples":5,"inferenceDraws":10,"kind":"rat","noiseDistribution":"laplace","noiseScale":0.1}"#
        let loaded = try ModelCheckpoint.load(try write(rat, ["defense": .string("rat"), "defense_configuration": .string(ratJSON)]))
        XCTAssertEqual(loaded.defense, rat)
        XCTAssertTrue(loaded.model is NoiseInjection)
        // The kind's name alone: a plain ResNet rebuilds; a randomised kind is refused.
        XCTAssertEqual(try ModelCheckpoint.load(try write(.none, ["defense": .string("alp")])).defense.kind, .alp)
        let bare = try write(rat, ["defense": .string("rat")])
        XCTAssertThrowsError(try ModelCheckpoint.load(bare)) { error in
            XCTAssertEqual("\(error)", "\(bare): defense: names defense 'rat' but carries no configuration of it; refusing to rebuild it "
                           + "from defaults (its noise, ensemble or denoising blocks may differ)")
        }
        let unreadable = try write(rat, ["defense": .string(#"{"kind": "rat", "noiseScale": "loud"}"#)])
        XCTAssertThrowsError(try ModelCheckpoint.load(unreadable)) { XCTAssertTrue("\($0)".contains("noise_scale: expected a number"), "\($0)") }
    }

    func logits(_ model: any Classifier, _ x: Tensor) -> Tensor {
        let tape = Tape(recordsParameterGradients: false)
        return model(tape.input(x, requiresGradient: false), mode: .evaluation).logits.value
    }
}
