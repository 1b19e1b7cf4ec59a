/// An error reading or interpreting image data. Every error names the file (or folder) at fault,
/// so that `description` alone tells a user what to fix: `"/data/x.jpg: not a JPEG file"`.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, coarsely; tests and callers branch on this, users read `message`.
    public enum Kind: String, Sendable {
        /// The path does not exist.
        case notFound
        /// The path exists but cannot be read (permissions, I/O error, a folder where a file was expected).
        case unreadable
        /// The bytes are not what the format requires: bad magic, truncated, a decoder error.
        case corrupt
        /// A valid file of a kind we do not handle (an IDX element type other than uint8, 16-bit PNG).
        case unsupported
        /// The folder tree does not match the layout asked for (no classes, an empty class folder).
        case layout
        /// Two files that must agree do not (image and label counts).
        case mismatch
        /// A parameter is out of range (a zero output size, a negative crop).
        case invalidArgument
    }

    public var kind: Kind
    /// The file or folder at fault.
    public var path: String
    /// What is wrong with it, in words a user can act on.
    public var message: String

    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
