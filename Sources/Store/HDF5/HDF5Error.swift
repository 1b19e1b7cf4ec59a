import CHDF5

/// A failed HDF5 operation: the file it concerned and what went wrong, including HDF5's own error
/// stack (innermost call first) when the C library reported one.
///
///     do { try HDF5File.read(from: "x.h5") { try $0.readFloat32("w") } }
///     catch let e as HDF5Error { print(e) }   // "x.h5: cannot open dataset 'w' (H5Dopen2(): ...)"
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }

    /// An error for `file` with HDF5's current error stack (on this thread) appended to `message`.
    static func fromStack(file: String, _ message: String) -> HDF5Error {
        var buffer = [CChar](repeating: 0, count: 2048)
        shim_error_stack(&buffer, buffer.count)
        let stack = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return HDF5Error(file: file, message: stack.isEmpty ? message : "\(message) (\(stack))")
    }
}

/// Checks HDF5 return codes: every negative `hid_t` or `herr_t` becomes an `HDF5Error` naming the file.
struct HDF5Check {
    let file: String

    @discardableResult
    func id(_ value: hid_t, _ what: @autoclosure () -> String) throws -> hid_t {
        if value < 0 { throw HDF5Error.fromStack(file: file, what()) }
        return value
    }

    func ok(_ status: herr_t, _ what: @autoclosure () -> String) throws {
        if status < 0 { throw HDF5Error.fromStack(file: file, what()) }
    }

    func fail(_ message: String) -> HDF5Error { HDF5Error(file: file, message: message) }
}
