/// Errors of the artifact store. Each description names the file or id and the problem.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    case invalidName(String, String)
    case notFound(String)
    case corrupt(path: String, reason: String)
    case invalidFile(path: String, reason: String)
    case lockTimeout(path: String, holder: String)
    case io(String)
    /// An artifact that cannot be checked or read now (I/O error, another process's lock); the
    /// message names the file and what to do.
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalidName(let name, let why): "invalid name '\(name)': \(why)"
        case .notFound(let what): "\(what): not found in the store"
        case .corrupt(let path, let reason): "\(path): corrupt artifact: \(reason)"
        case .invalidFile(let path, let reason): "\(path): \(reason)"
        case .lockTimeout(let path, let holder): "\(path): timed out waiting for the lock (held by \(holder)); a stage is probably running"
        case .io(let message): message
        case .unavailable(let message): message
        }
    }
}
