import Foundation
import Store

/// One stage instance of a pipeline: its kind and version, its parameters, where its inputs come from
/// (another node's output, by role), and how to compute it.
public struct StageNode: Sendable {
    /// Unique in the pipeline: `ingest`, `train:atalp`, `attack:pgd:gray-box:atalp@0.25`, `report`.
    public var name: String
    /// The stage kind: ingest, preprocess, train, adversarial-generate, evaluate, analyze, report.
    public var stage: String
    public var version: Int
    public var parameters: [String: ParameterValue]
    /// Input role → (node, output role).
    public var inputs: [String: (node: String, output: String)]
    /// The output roles `compute` returns.
    public var outputs: Set<String>
    /// Where in the pipeline file an input's reference was written (the key that chose it), for
    /// the message when it does not resolve.
    var origins: [String: Origin] = [:]
    let compute: @Sendable (StageRun) throws -> [String: ArtifactID]

    /// A place in the pipeline file: the line and key path of the setting that made a reference.
    struct Origin: Sendable {
        var line: Int?
        var key: String
    }

    public var dependencies: [String] { Array(Set(inputs.values.map(\.node))).sorted() }

    /// The store's spec. Nested parameters are flattened to dotted names (`defense.beta`), so that
    /// `atalp status` names the one that changed rather than its whole group.
    func spec(_ inputs: [String: ArtifactID]) -> StageSpec {
        StageSpec(stage: stage, implementationVersion: version, parameters: Self.flatten(parameters), inputs: inputs)
    }

    static func flatten(_ parameters: [String: ParameterValue], prefix: String = "") -> [String: ParameterValue] {
        var flat: [String: ParameterValue] = [:]
        for (name, value) in parameters {
            if case .object(let fields) = value, !fields.isEmpty {
                flat.merge(flatten(fields, prefix: prefix + name + ".")) { $1 }
            } else {
                flat[prefix + name] = value
            }
        }
        return flat
    }
}
