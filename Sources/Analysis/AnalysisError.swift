/// A problem with an analysis input (an artifact of the wrong kind, a missing dataset), naming the file.
public struct AnalysisError: Error, CustomStringConvertible {
    public let path: String
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
