/// A problem with a pipeline file or a pipeline run, said the way a shell user reads it:
/// `pipelines/quick.yaml:14: models[2].defense.beta: expected a number, found "high"`.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    /// The pipeline file, as the user named it.
    public var file: String
    /// 1-based line in `file`, when the problem has a place.
    public var line: Int?
    /// The key path (`models[2].defense.beta`), when the problem is one key's.
    public var key: String?
    public var message: String

    public init(file: String, line: Int? = nil, key: String? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let key, !key.isEmpty { text += "\(key): " }
        return text + message
    }
}
