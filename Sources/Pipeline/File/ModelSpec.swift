import Foundation
import NN
import Robustness
import Store

/// One entry of `models:` or `sources:` — an architecture, a defense, a schedule and its seeds.
///
/// A model with several training seeds (`seeds: [0, 1, 2]`, top level or per model) is one row of
/// Table 1 trained once per seed: `replicates` are its per-seed models, named `<name>#seed<s>`
/// (one seed keeps the plain name). A replicate's cache key holds its seed, never its name, so
/// adding a seed trains only that seed and reuses the others.
public struct ModelSpec: Sendable {
    public var name: String
    /// The row of Table 1 (the name in the file); a replicate's `name` adds `#seed<s>`.
    public var row: String
    public var architecture: String
    /// Channel widths per group, overriding the architecture's (tiny models for tests).
    public var widths: [Int]?
    /// Decoded by `Defense(from:)` from the model's `defense:` over the top-level `defense:` defaults.
    public var defense: Defense
    public var training: TrainingSpec
    /// Every training seed of the row (`seeds:`, else `[seed]`); a replicate has one.
    public var seeds: [UInt64]
    /// The training seed (of a replicate; of a row, its first seed).
    public var seed: UInt64 { seeds[0] }
    /// Seed of the independently trained copy that plays the gray-box attacker (default seed + 1000).
    public var grayBoxSeed: UInt64
    /// Display name in reports (default: the name).
    public var label: String
    var line: Int?

    /// The gray-box attacker of this model: same architecture, defense and schedule, another seed.
    public var grayBoxCopy: ModelSpec {
        var copy = self
        copy.name = "\(name)#gray"
        copy.seeds = [grayBoxSeed]
        return copy
    }

    /// The model trained with each of `seeds`, in order: itself when it has one seed; else copies
    /// named `<name>#seed<s>`, each with its gray-box copy at s + 1000.
    public var replicates: [ModelSpec] {
        guard seeds.count > 1 else { return [self] }
        return seeds.map { s in
            var r = self
            r.name = "\(row)#seed\(s)"
            r.seeds = [s]
            r.grayBoxSeed = s + 1000
            return r
        }
    }

    /// - Parameter seedDefaults: the top-level `seeds:`, which a model's own `seed:` or `seeds:`
    ///   replaces (nil for sources: an attacker is trained once).
    init(_ f: YAMLFields, training defaults: TrainingSpec, defenseDefaults: YAMLFields?, seedDefaults: [UInt64]? = nil) throws {
        line = f.line
        name = try f.name(of: "a model", symbols: "-_+.")
        row = name
        label = try f.string("label") ?? name
        architecture = try f.required("architecture", f.string)
        guard (try? ResNetConfiguration.named(architecture, inputChannels: 1, classes: 2)) != nil else {
            throw f.error("architecture", "unknown architecture '\(architecture)' (use resnet8/20/32/44/56/110, resnet18-small, or resnet18/34/50/101/152)")
        }
        widths = try f.ints("widths")
        if f.has("seed") && f.has("seeds") { throw f.error("seeds", "give either seed or seeds, not both") }
        if let own = try Self.seeds(f) {
            seeds = own
        } else if let s = try f.int("seed") {
            guard s >= 0 else { throw f.error("seed", "must be ≥ 0") }
            seeds = [UInt64(s)]
        } else {
            seeds = seedDefaults ?? [0]
        }
        if f.has("gray_box_seed") && seeds.count > 1 {
            throw f.error("gray_box_seed", "a model with several seeds trains the gray-box copy of seed s with seed s + 1000; gray_box_seed applies to one seed")
        }
        let list = seeds
        if list.count > 1, let clash = list.first(where: { list.contains($0 + 1000) }) {
            throw f.error("seeds", "seed \(clash + 1000) is both a training seed and the gray-box copy's seed of seed \(clash) (s + 1000)")
        }
        grayBoxSeed = UInt64(try f.int("gray_box_seed") ?? Int(seeds[0]) + 1000)
        training = try TrainingSpec(try f.fields("training"), over: defaults)
        defense = try Defense(from: LayeredFields(try f.required("defense", f.fields), over: defenseDefaults)!)
        try f.finish()
    }

    /// `seeds:` of a model or of the pipeline: a non-empty list of distinct integers ≥ 0; nil if absent.
    static func seeds(_ f: YAMLFields) throws -> [UInt64]? {
        guard let list = try f.ints("seeds") else { return nil }
        guard !list.isEmpty else { throw f.error("seeds", "give at least one seed") }
        guard list.allSatisfy({ $0 >= 0 }) else { throw f.error("seeds", "seeds must be ≥ 0") }
        guard Set(list).count == list.count else { throw f.error("seeds", "a seed is listed twice: \(list)") }
        return list.map(UInt64.init)
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
