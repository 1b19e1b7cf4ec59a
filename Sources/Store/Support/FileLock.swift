#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An advisory `flock(2)` lock on a file. The kernel drops it when the holder's file descriptor closes,
/// including when the process dies (SIGKILL, crash), so a crashed holder never blocks others.
/// Locks are per open file, so two threads of one process exclude each other too.
/// (On NFS, flock may be emulated or unavailable; keep stores on a local filesystem.)
final class FileLock {
    enum Mode { case shared, exclusive }

    let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { release() }

    /// Blocks until the lock is held, or throws `StoreError.lockTimeout` after `timeout` seconds.
    /// With `recordHolder`, the holder writes its pid and host into the file, for messages.
    static func acquire(_ path: String, _ mode: Mode, timeout: Double? = nil, recordHolder: Bool = false) throws -> FileLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.io("\(path): cannot open lock file: \(String(cString: strerror(errno)))") }
        let operation = mode == .shared ? LOCK_SH : LOCK_EX
        if let timeout {
            let deadline = Date().addingTimeInterval(timeout)
            while flock(fd, operation | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK || errno == EINTR else {
                    let message = String(cString: strerror(errno))
                    close(fd)
                    throw StoreError.io("\(path): cannot lock: \(message)")
                }
                if Date() >= deadline {
                    close(fd)
                    throw StoreError.lockTimeout(path: path, holder: holder(of: path))
                }
                usleep(20_000)
            }
        } else {
            while flock(fd, operation) != 0 {
                guard errno == EINTR else {
                    let message = String(cString: strerror(errno))
                    close(fd)
                    throw StoreError.io("\(path): cannot lock: \(message)")
                }
            }
        }
        let lock = FileLock(path: path, fd: fd)
        if recordHolder {
            let text = Array("pid \(getpid()) on \(ProcessInfo.processInfo.hostName)\n".utf8)
            _ = ftruncate(fd, 0)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return lock
    }

    /// The lock if it can be had right now, else nil.
    static func tryAcquire(_ path: String, _ mode: Mode) -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        if flock(fd, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
        return FileLock(path: path, fd: fd)
    }

    /// Who holds a lock on `path` that a reader's shared lock conflicts with — "another process" —
    /// or nil when none does. HDF5 (1.10+, h5py included) takes an exclusive flock on a file it opens
    /// for writing and a shared one for reading, so this is how we see a writer at work. The probe
    /// opens the file read-only and takes and drops a shared lock, changing nothing.
    static func conflictingHolder(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { return nil }
        return errno == EWOULDBLOCK ? "another process" : nil
    }

    func release() {
        if fd >= 0 {
            close(fd)   // closing drops the flock
            fd = -1
        }
    }

    static func holder(of path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return text.isEmpty ? "another process" : text
    }
}
