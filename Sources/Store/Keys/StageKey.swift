import Crypto

/// The cache key of one stage run: SHA-256 over a canonical encoding of what determines its output.
///
///     key = SHA-256( "atalp-stage-key\n" "1\n"                      key-schema version
///                    stage "\n" implementationVersion "\n"
///                    canonicalJSON(parameters) "\n"
///                    for each input, sorted by role:  role "=" id "\n" )
///
/// Roles and stage names may not contain "\n" or "=" (checked), so the encoding is unambiguous.
/// Bump `implementationVersion` whenever a stage's code changes what it produces; bump the key-schema
/// version (here) only when this encoding changes, which invalidates every cache entry.
public struct StageKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let hex: String

    public init?(_ hex: String) {
        guard ArtifactID.isValidHex(hex) else { return nil }
        self.hex = hex
    }

    public var description: String { hex }
    public var short: String { String(hex.prefix(12)) }
    public static func < (a: StageKey, b: StageKey) -> Bool { a.hex < b.hex }

    static let schemaVersion = 1

    /// The key for `spec`; throws when a stage name or role could make the encoding ambiguous.
    public init(_ spec: StageSpec) throws {
        try self.init(stage: spec.stage, implementationVersion: spec.implementationVersion,
                      parametersJSON: spec.parameters.canonicalJSON, inputs: spec.inputs)
    }

    init(stage: String, implementationVersion: Int, parametersJSON: String, inputs: [String: ArtifactID]) throws {
        for name in [stage] + Array(inputs.keys) where name.isEmpty || name.contains("\n") || name.contains("=") {
            throw StoreError.invalidName(name, "stage and role names must be non-empty, without newlines or '='")
        }
        var text = "atalp-stage-key\n\(Self.schemaVersion)\n\(stage)\n\(implementationVersion)\n\(parametersJSON)\n"
        for role in inputs.keys.sorted() { text += "\(role)=\(inputs[role]!.hex)\n" }
        hex = Array(SHA256.hash(data: Array(text.utf8))).hexString
    }
}

/// What identifies a stage run before it runs: its kind, the version of its implementation, its
/// parameters (an object), and the ids of its input artifacts by role.
public struct StageSpec: Hashable, Sendable {
    public var stage: String
    public var implementationVersion: Int
    public var parameters: ParameterValue
    public var inputs: [String: ArtifactID]

    public init(stage: String, implementationVersion: Int, parameters: [String: ParameterValue] = [:],
                inputs: [String: ArtifactID] = [:]) {
        self.stage = stage
        self.implementationVersion = implementationVersion
        self.parameters = .object(parameters)
        self.inputs = inputs
    }

    public func key() throws -> StageKey { try StageKey(self) }
}
