import Foundation
import NN
import Robustness
import Store
import Tensors

/// One entry of `attacks:` — PGD (or the attack ensemble) under one or more threat models, at
/// several ε, recorded after several iteration counts.
public struct AttackSpec: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// PGD (`PGD.attack`), with a transfer set under `transfer_rule` and white-box evidence.
        case pgd
        /// The AutoAttack-style APGD-CE, APGD-T, Square ensemble of `AttackEnsemble`, its length the
        /// largest of `iterations` (the same images stand for every recorded count); white-box only.
        case ensemble
    }

    public var name: String
    public var kind: Kind
    public var threatModels: [ThreatModel]
    public var blackBoxSource: String?
    public var epsilons: [Double]
    /// Iteration counts at which accuracy is recorded; the largest is the attack's length.
    public var iterations: [Int]
    /// As written; nil: the one rule, `PGDConfiguration.defaultStepSize` (2.5·ε / the largest count).
    public var stepSize: Double?
    public var restarts: Int
    public var randomStart: Bool
    /// Attack the first N test images (default: all).
    public var examples: Int?
    public var seed: UInt64
    /// The models to attack (default: all).
    public var targets: [String]?
    /// Which checkpoint of each model is attacked and evaluated: `best` (by robust validation
    /// accuracy) or `last`.
    public var checkpoint: String
    /// Attack randomised sources with expectation over transformation (their defense's
    /// `eot_samples` gradient draws per step). `false` gives the naive single-draw attack, to show
    /// how much EOT matters; deterministic sources are attacked the same either way.
    public var eot: Bool
    /// Which iterate a PGD attack hands over as its transfer set (`transfer_rule`, default
    /// `final-iterate`: Madry et al. and the paper; docs/attacks.md, "Attack semantics").
    public var transferRule: TransferRule
    var line: Int?

    init(_ f: YAMLFields) throws {
        line = f.line
        name = try f.name(of: "an attack")
        kind = try f.choice("kind", Kind.self) ?? .pgd
        let threats = Dictionary(uniqueKeysWithValues: ThreatModel.allCases.map { ($0.rawValue, $0) })
        threatModels = try (f.strings("threat_models") ?? ["white-box"]).map { text in
            guard let t = threats[text] else {
                throw f.error("threat_models", "unknown threat model '\(text)' (expected one of: white-box, gray-box, black-box)")
            }
            return t
        }
        blackBoxSource = try f.string("black_box_source")
        epsilons = try f.required("epsilons", f.doubles)
        guard !epsilons.isEmpty, epsilons.allSatisfy({ $0 >= 0 }) else { throw f.error("epsilons", "give at least one ε ≥ 0") }
        iterations = try f.required("iterations", f.ints).sorted()
        guard !iterations.isEmpty, iterations.allSatisfy({ $0 >= 0 }) else { throw f.error("iterations", "give at least one count ≥ 0") }
        stepSize = try f.double("step_size", where: { $0 >= 0 }, "must be ≥ 0")
        restarts = try f.int("restarts") ?? 1
        guard restarts >= 1 else { throw f.error("restarts", "must be at least 1") }
        randomStart = try f.bool("random_start") ?? true
        examples = try f.int("examples")
        seed = UInt64(try f.int("seed") ?? 0)
        targets = try f.strings("targets")
        checkpoint = try f.choice("checkpoint", ["best": "best", "last": "last"]) ?? "best"
        eot = try f.bool("eot") ?? true
        let rules = Dictionary(uniqueKeysWithValues: TransferRule.allCases.map { ($0.rawValue, $0) })
        transferRule = try f.choice("transfer_rule", rules) ?? .finalIterate
        // The ensemble keeps each example's first success (white-box scoring) or x itself: no transfer set.
        if kind == .ensemble && threatModels.contains(where: { $0 != .whiteBox }) {
            throw f.error("threat_models", "the ensemble attack scores white-box only (it keeps each example's first success and makes "
                          + "no transfer set); use kind: pgd for gray-box and black-box")
        }
        if kind != .pgd && f.has("transfer_rule") {
            throw f.error("transfer_rule", "only a pgd attack has a transfer rule")
        }
        try f.finish()
    }

    /// The step size at `epsilon`: as written, else the one rule.
    func stepSize(epsilon: Double) -> Double {
        stepSize ?? Double(PGDConfiguration.defaultStepSize(epsilon: Float(epsilon), iterations: iterations.last!))
    }

    func configuration(epsilon: Double) -> PGDConfiguration {
        PGDConfiguration(epsilon: Float(epsilon), stepSize: Float(stepSize(epsilon: epsilon)), iterations: iterations.last!,
                         randomStart: randomStart, restarts: restarts)
    }

    /// Parameters of one adversarial-generate stage (one source, one ε).
    func generateParameters(epsilon: Double) -> [String: ParameterValue] {
        ["kind": .string(kind.rawValue), "epsilon": .double(epsilon), "step_size": .double(stepSize(epsilon: epsilon)),
         "iterations": .array(iterations.map { .int(Int64($0)) }), "restarts": .int(Int64(restarts)),
         "random_start": .bool(randomStart), "examples": examples.map { .int(Int64($0)) } ?? .null, "seed": .int(Int64(seed)),
         "transfer_rule": .string(transferRule.rawValue)]
            // Only when off, so that sets made before the option existed keep their keys.
            .merging(eot ? [:] : ["eot": .bool(false)]) { $1 }
    }
}
