/// What every artifact says about itself, stored as attributes on its root group:
///
/// | attribute        | type            | meaning                                                       |
/// |------------------|-----------------|---------------------------------------------------------------|
/// | `kind`           | string          | "dataset", "checkpoint", "adversarial-set", "evaluation", ... |
/// | `format_version` | int64           | version of that kind's layout                                 |
/// | `stage`          | string          | the stage that made it ("" when imported by hand)             |
/// | `stage_version`  | int64           | that stage's implementation version                           |
/// | `params`         | string (JSON)   | the stage's parameters, canonical JSON                        |
/// | `input_roles`    | string array    | roles of the input artifacts, sorted                          |
/// | `input_ids`      | string array    | their ids, in the same order                                  |
///
/// Only deterministic facts live in the file (they are part of the id); when and where it was made
/// live in the store's sidecar and run records.
public struct ArtifactMetadata: Hashable, Sendable {
    public var kind: String
    public var formatVersion: Int
    public var stage: String
    public var stageVersion: Int
    public var parameters: ParameterValue
    public var inputs: [String: ArtifactID]

    public init(kind: String, formatVersion: Int = 1, stage: String = "", stageVersion: Int = 0,
                parameters: [String: ParameterValue] = [:], inputs: [String: ArtifactID] = [:]) {
        self.kind = kind
        self.formatVersion = formatVersion
        self.stage = stage
        self.stageVersion = stageVersion
        self.parameters = .object(parameters)
        self.inputs = inputs
    }

    /// Metadata for the output of the stage run `spec`.
    public init(kind: String, formatVersion: Int = 1, producedBy spec: StageSpec) {
        self.kind = kind
        self.formatVersion = formatVersion
        stage = spec.stage
        stageVersion = spec.implementationVersion
        parameters = spec.parameters
        inputs = spec.inputs
    }

    static let reservedAttributes: Set<String> = ["kind", "format_version", "stage", "stage_version", "params",
                                                  "input_roles", "input_ids"]

    var attributes: [(String, HDF5Attribute)] {
        let roles = inputs.keys.sorted()
        return [
            ("kind", .string(kind)), ("format_version", .int(Int64(formatVersion))),
            ("stage", .string(stage)), ("stage_version", .int(Int64(stageVersion))),
            ("params", .string(parameters.canonicalJSON)),
            ("input_roles", .strings(roles)), ("input_ids", .strings(roles.map { inputs[$0]!.hex })),
        ]
    }
}

/// The metadata as read back from a file (parameters stay as their JSON text).
public struct StoredMetadata: Hashable, Sendable {
    public var kind: String
    public var formatVersion: Int
    public var stage: String
    public var stageVersion: Int
    public var parametersJSON: String
    public var inputs: [String: ArtifactID]

    /// Reads the metadata attributes of the artifact rooted at `root` ("/" for an object file).
    static func read(from reader: HDF5Reader, root: String = "/") throws -> StoredMetadata {
        func string(_ name: String) throws -> String {
            guard let value = try reader.attribute(name, on: root)?.stringValue else {
                throw StoreError.invalidFile(path: reader.path, reason: "not an atalp artifact: no string attribute '\(name)' on '\(root)'")
            }
            return value
        }
        let kind = try string("kind")
        let stage = (try? string("stage")) ?? ""
        let params = (try? string("params")) ?? "{}"
        let formatVersion = Int(try reader.attribute("format_version", on: root)?.intValue ?? 0)
        let stageVersion = Int(try reader.attribute("stage_version", on: root)?.intValue ?? 0)
        let roles = try reader.attribute("input_roles", on: root)?.stringsValue ?? []
        let ids = try reader.attribute("input_ids", on: root)?.stringsValue ?? []
        guard roles.count == ids.count else {
            throw StoreError.invalidFile(path: reader.path, reason: "input_roles and input_ids differ in length")
        }
        var inputs: [String: ArtifactID] = [:]
        for (role, hex) in zip(roles, ids) {
            guard let id = ArtifactID(hex) else {
                throw StoreError.invalidFile(path: reader.path, reason: "input '\(role)' has an invalid id '\(hex)'")
            }
            inputs[role] = id
        }
        return StoredMetadata(kind: kind, formatVersion: formatVersion, stage: stage, stageVersion: stageVersion,
                              parametersJSON: params, inputs: inputs)
    }
}
