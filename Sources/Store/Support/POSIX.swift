#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Thin, throwing wrappers over the POSIX calls that make writes durable and atomic. Each error names
/// the path and the failing call with `strerror(errno)`.
enum POSIX {
    struct Failure: Error, CustomStringConvertible {
        let path: String
        let message: String
        var description: String { "\(path): \(message)" }
    }

    static func failure(_ path: String, _ call: String, _ code: Int32 = errno) -> Failure {
        Failure(path: path, message: "\(call) failed: \(String(cString: strerror(code)))")
    }

    /// Flushes a file's data and metadata to stable storage.
    static func fsyncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "open") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(path, "fsync") }
    }

    /// Flushes a directory, so that a rename or unlink inside it survives power loss.
    static func fsyncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "open") }
        defer { close(fd) }
        // Some filesystems refuse fsync on directories (EINVAL); the rename itself is still atomic.
        if fsync(fd) != 0 && errno != EINVAL { throw failure(path, "fsync") }
    }

    /// Atomically replaces `to` with `from` (both on the same filesystem).
    static func rename(_ from: String, _ to: String) throws {
        #if canImport(Glibc)
        let status = Glibc.rename(from, to)
        #else
        let status = Darwin.rename(from, to)
        #endif
        guard status == 0 else { throw failure(to, "rename from \(from)") }
    }

    /// Removes a file; a missing file is not an error.
    static func unlinkIfPresent(_ path: String) {
        _ = unlink(path)
    }

    /// Why `path` cannot be opened for reading (permission, I/O error, too many open files), or nil.
    static func openProblem(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        close(fd)
        return nil
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates a directory and its parents (mode 0755); existing directories are fine, including
    /// one that another process creates at the same moment (mkdir's EEXIST is success when a
    /// directory is there).
    static func makeDirectories(_ path: String) throws {
        if isDirectory(path) { return }
        let parent = directory(of: path)
        if parent != path && parent != "." && parent != "/" { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 {
            let code = errno
            guard code == EEXIST, isDirectory(path) else {
                throw Failure(path: path, message: "cannot create directory: \(String(cString: strerror(code)))")
            }
        }
    }

    /// A name that no other process or thread picks: pid, time and random bits.
    static func uniqueSuffix() -> String {
        let random = UInt64.random(in: 0...UInt64.max)
        return "\(getpid())-\(String(random, radix: 16))"
    }

    /// The directory part of a path ("." when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
