import Foundation
import Store

/// One entry of `analyses:` — attention maps, key-region statistics and loss landscapes of each model
/// (the `activations` kind, the only one): one analyze stage per model after the evaluations.
public struct AnalysisSpec: Sendable {
    public var name: String
    /// `activations`.
    public var kind: String { ActivationAnalysisSpec.kind }
    public var models: [String]?
    public var activations: ActivationAnalysisSpec
    /// The stage key's parameters.
    public var parameters: ParameterValue { activations.parameters }
    var line: Int?

    init(_ f: YAMLFields) throws {
        line = f.line
        name = try f.name(of: "an analysis")
        let kind = try f.required("kind", f.string)
        guard kind == ActivationAnalysisSpec.kind else {
            throw f.error("kind", "unknown analysis kind '\(kind)' (expected one of: \(ActivationAnalysisSpec.kind))")
        }
        models = try f.strings("models")
        activations = try ActivationAnalysisSpec(try f.fields("parameters"))
        try f.finish()
    }
}

/// Parameters of the built-in `activations` analysis (the paper's Table 2, Figure 4 and Figure 6), per
/// model: activation artifacts of the clean test images and of the adversarial sets one attack made
/// against that model (each threat model and ε, after its longest run), and a loss landscape.
public struct ActivationAnalysisSpec: Sendable {
    public static let kind = "activations"
    /// The attack whose adversarial sets are analysed (nil: clean images only).
    public var attack: String?
    /// The first N test images (default: the attack's examples, else 200).
    public var examples: Int?
    /// Test images whose inputs are kept, and drawn in Figure 4.
    public var figureImages = [0, 1]
    /// The image sets drawn in Figure 4: `clean` and adversarial sets as `<threat model>@<ε>` (default:
    /// clean and, as the paper's figure, the gray-box set at the attack's largest ε, else white-box).
    /// Every set enters Table 2.
    public var figureSets: [String]?
    /// Test images whose loss landscape is computed (Figure 6).
    public var landscapeImages = [0, 1]
    /// Half-width of the landscape grid in pixel units (default: the attack's largest ε, else 0.25).
    public var landscapeRadius: Double?
    /// Grid points per axis.
    public var landscapeSteps = 21
    /// Also keep the raw group outputs of the figure images.
    public var keepActivations = false
    /// The exponent p of F(A) = (1/C)·Σ_c |A_c|^p.
    public var attentionExponent = 2.0
    /// `best` or `last` checkpoint of each model.
    public var checkpoint = "best"
    /// Images per forward pass (default `defaultBatchSize`). The batch is also the unit an MPI job
    /// shards the images by (as attacks shard theirs), so it caps the ranks one set keeps busy.
    public var batchSize: Int?
    public static let defaultBatchSize = 100

    init(_ f: YAMLFields?) throws {
        guard let f else { return }
        attack = try f.string("attack")
        examples = try f.int("examples")
        if let v = examples, v < 1 { throw f.error("examples", "must be at least 1") }
        if let v = try f.ints("figure_images") {
            guard v.allSatisfy({ $0 >= 0 }) else { throw f.error("figure_images", "image indices are ≥ 0") }
            figureImages = v
        }
        if let v = try f.ints("landscape_images") {
            guard v.allSatisfy({ $0 >= 0 }) else { throw f.error("landscape_images", "image indices are ≥ 0") }
            landscapeImages = v
        }
        figureSets = try f.strings("figure_sets")
        landscapeRadius = try f.double("landscape_radius")
        if let r = landscapeRadius, !(r > 0) { throw f.error("landscape_radius", "must be > 0") }
        if let v = try f.int("landscape_steps") { guard v >= 2 else { throw f.error("landscape_steps", "must be at least 2") }; landscapeSteps = v }
        keepActivations = try f.bool("keep_activations") ?? false
        attentionExponent = try f.double("attention_exponent") ?? 2
        checkpoint = try f.choice("checkpoint", ["best": "best", "last": "last"]) ?? "best"
        batchSize = try f.int("batch_size")
        if let v = batchSize, v < 1 { throw f.error("batch_size", "must be at least 1") }
        try f.finish()
    }

    var parameters: ParameterValue {
        .object(["attack": attack.map { .string($0) } ?? .null, "examples": examples.map { .int(Int64($0)) } ?? .null,
                 "figure_images": .array(figureImages.map { .int(Int64($0)) }),
                 "figure_sets": figureSets.map { .array($0.map { .string($0) }) } ?? .null,
                 "landscape_images": .array(landscapeImages.map { .int(Int64($0)) }),
                 "landscape_radius": landscapeRadius.map { .double($0) } ?? .null, "landscape_steps": .int(Int64(landscapeSteps)),
                 "keep_activations": .bool(keepActivations), "attention_exponent": .double(attentionExponent),
                 "checkpoint": .string(checkpoint)]
                // Only when given, so that analyses made before the option existed keep their keys.
                .merging(batchSize.map { ["batch_size": .int(Int64($0))] } ?? [:]) { $1 })
    }
}
