import Foundation
import NN
import Robustness
import Store

/// One entry of `models:` or `sources:` — an architecture, a defense, a schedule and a seed.
public struct ModelSpec: Sendable {
    public var name: String
    public var architecture: String
    /// Channel widths per group, overriding the architecture's (tiny models for tests).
    public var widths: [Int]?
    /// Decoded by `Defense(from:)` from the model's `defense:` over the top-level `defense:` defaults.
    public var defense: Defense
    public var training: TrainingSpec
    public var seed: UInt64
    /// Seed of the independently trained copy that plays the gray-box attacker.
    public var grayBoxSeed: UInt64
    /// Display name in reports (default: the name).
    public var label: String
    var line: Int?

    /// The gray-box attacker of this model: same architecture, defense and schedule, another seed.
    public var grayBoxCopy: ModelSpec {
        var copy = self
        copy.name = "\(name)#gray"
        copy.seed = grayBoxSeed
        return copy
    }

    init(_ f: YAMLFields, training defaults: TrainingSpec, defenseDefaults: YAMLFields?) throws {
        line = f.line
        name = try f.name(of: "a model", symbols: "-_+.")
        label = try f.string("label") ?? name
        architecture = try f.required("architecture", f.string)
        guard (try? ResNetConfiguration.named(architecture, inputChannels: 1, classes: 2)) != nil else {
            throw f.error("architecture", "unknown architecture '\(architecture)' (use resnet8/20/32/44/56/110, resnet18-small, or resnet18/34/50/101/152)")
        }
        widths = try f.ints("widths")
        seed = UInt64(try f.int("seed") ?? 0)
        grayBoxSeed = UInt64(try f.int("gray_box_seed") ?? Int(seed) + 1000)
        training = try TrainingSpec(try f.fields("training"), over: defaults)
        defense = try Defense(from: LayeredFields(try f.required("defense", f.fields), over: defenseDefaults)!)
        try f.finish()
    }

    func resnetConfiguration(channels: Int, classes: Int) throws -> ResNetConfiguration {
        var config = try ResNetConfiguration.named(architecture, inputChannels: channels, classes: classes)
        if let widths {
            guard widths.count == config.widths.count else {
                throw PipelineError(file: "", key: "models.\(name).widths", "\(architecture) has \(config.widths.count) groups, \(widths.count) widths given")
            }
            config.widths = widths
        }
        return config
    }

    /// What determines the trained weights (never the thread count): the same encodings the
    /// checkpoint's attributes hold.
    var trainParameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = ["architecture": .string(architecture), "defense": defense.parameters,
                                           "training": training.parameters, "seed": .int(Int64(seed))]
        if let widths { p["widths"] = .array(widths.map { .int(Int64($0)) }) }
        return p
    }
}

/// `training:` — the schedule (`TrainingConfiguration`'s keys) and how the best checkpoint is
/// picked; at the top level the defaults, in a model its overrides.
public struct TrainingSpec: Sendable, Hashable {
    /// The schedule; its seed is the model's.
    public var schedule = TrainingConfiguration()
    /// Images held out of the training set to pick the best checkpoint by robust accuracy.
    public var validationExamples = 0
    /// The attack that measures robust validation accuracy (nil: the defense's training attack, or
    /// for an undefended model no attack).
    public var validationAttack: PGDConfiguration?

    init() {}

    init(_ f: YAMLFields?, over base: TrainingSpec) throws {
        self = base
        guard let f else { return }
        schedule = try TrainingConfiguration(from: f, over: base.schedule)
        if let v = try f.int("validation_examples", where: { $0 >= 0 }, "must be ≥ 0") { validationExamples = v }
        if let a = try f.fields("validation_attack") { validationAttack = try PGDConfiguration(from: a) }
        try f.finish()
    }

    public var epochs: Int { schedule.epochs }

    func configuration(seed: UInt64) -> TrainingConfiguration {
        var c = schedule
        c.seed = seed
        return c
    }

    var parameters: ParameterValue {
        var p = schedule.parameters
        p["validation_examples"] = .int(Int64(validationExamples))
        if let a = validationAttack { p["validation_attack"] = a.parameters }
        return .object(p)
    }
}
