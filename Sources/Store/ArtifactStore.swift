#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The content-addressed artifact store: a directory of immutable HDF5 artifacts named by their
/// content hash, plus a run cache that maps stage keys to the artifacts each stage produced.
///
///     store/
///       STORE                      marker: "atalp artifact store, layout 1"
///       objects/ab/<id>.h5         artifacts, read-only (0444), named by ArtifactID
///       objects/ab/<id>.json       sidecar: kind, stage, inputs, size, mtime when last verified, created
///       runs/ab/<key>.json         run records: stage, params, inputs, outputs, host, times
///       pins/<name>                GC roots: a file holding one artifact id
///       locks/<key>.lock           per-key flock: one process computes a key at a time
///       lock                       store-wide flock: shared while writing, exclusive for gc
///       tmp/                       in-flight writes (a killed writer's leftovers are swept)
///       work/<key>/                resumable state of a stage being computed (see workDirectory)
///       quarantine/                artifacts whose content no longer matched their id
///
/// Every publish is write-temp, fsync, rename, fsync-directory: a reader never sees half a file, and a
/// writer killed at any instant leaves at most a file in tmp/. A value type holding only the root path;
/// safe to share between threads (each call opens what it needs).
public struct ArtifactStore: Sendable {
    /// The store's directory.
    public let root: String
    /// Whether finding damage may move or delete files (quarantine, sweeping tmp/); false for
    /// commands that only inspect.
    public let repairs: Bool

    static let marker = "atalp artifact store, layout 1"

    /// The store directory to use when none is given: `$ATALP_STORE`, else "store".
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let value = environment["ATALP_STORE"], !value.isEmpty { return value }
        return "store"
    }

    /// The directories of the layout, created with the store.
    static let layoutDirectories = ["objects", "runs", "pins", "locks", "tmp", "quarantine"]

    /// Opens the store at `root`, creating its layout when `create` is true. An existing directory that is
    /// not empty and has no STORE marker is refused, so that a typo never scatters files into a
    /// random directory. Sweeps tmp/ when no other process is using the store.
    ///
    /// Creation is safe under concurrency: any number of processes may open a missing store at once
    /// and all succeed with the same store (see `create(_:)`).
    ///
    /// `repairs: false` opens it for inspection (`status`, `ls`, `show`, `report`): nothing is moved
    /// or deleted — no quarantine, no sweep of tmp/ — damage is only reported.
    public init(root: String, create: Bool = true, repairs: Bool = true) throws {
        var path = root
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        self.root = path
        self.repairs = repairs
        let markerPath = "\(path)/STORE"
        if !POSIX.exists(markerPath) {
            guard create else {
                throw StoreError.invalidFile(path: path, reason: POSIX.isDirectory(path)
                    ? "not an atalp store (no STORE file; nothing stored here yet?)" : "no such store directory")
            }
            try Self.create(path)
        } else if repairs {
            for sub in Self.layoutDirectories where !POSIX.isDirectory("\(path)/\(sub)") {
                try POSIX.makeDirectories("\(path)/\(sub)")
            }
        }
        if repairs { sweepTemporaryFiles() }
    }

    /// Makes `path` a store. The directory is created (mkdir tolerates a racing creator), then the
    /// layout is made under the store lock held exclusively, and the STORE marker is written last,
    /// atomically: a process that finds the marker finds the whole layout, and two creators never
    /// see each other's half-made layout as a foreign directory (the marker is re-checked under the
    /// lock, and the layout's own names never count as foreign).
    static func create(_ path: String) throws {
        let markerPath = "\(path)/STORE"
        if !POSIX.isDirectory(path) {
            if POSIX.exists(path) { throw StoreError.invalidFile(path: path, reason: "is a file, not a store directory") }
            do { try POSIX.makeDirectories(path) } catch { throw StoreError.io("\(error)") }
        }
        try refuseForeignDirectory(path)
        let lock = try FileLock.acquire("\(path)/lock", .exclusive, timeout: 60)
        defer { lock.release() }
        if POSIX.exists(markerPath) { return }   // another process made it while we waited
        try refuseForeignDirectory(path)
        do {
            for sub in layoutDirectories { try POSIX.makeDirectories("\(path)/\(sub)") }
            try JSONFile.writeText(marker + "\n", to: markerPath)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.io("\(path): cannot create the store: \(error)")
        }
    }

    /// A directory without a STORE marker may hold a fresh checkout's README, hidden files, and the
    /// layout of a store being created (by another process now, or by one killed half-way); anything
    /// else means it is someone else's directory.
    static func refuseForeignDirectory(_ path: String) throws {
        let ours = Set(layoutDirectories + ["STORE", "lock", "work", "README.md"])
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        if let foreign = entries.sorted().first(where: { !ours.contains($0) && !$0.hasPrefix(".") }) {
            throw StoreError.invalidFile(path: path, reason: "not an atalp store (no STORE file) and not empty "
                                         + "(it holds \(foreign)); refusing to use it")
        }
    }

    // MARK: Paths

    func objectPath(_ id: ArtifactID) -> String { "\(root)/objects/\(id.hex.prefix(2))/\(id.hex).h5" }
    func sidecarPath(_ id: ArtifactID) -> String { "\(root)/objects/\(id.hex.prefix(2))/\(id.hex).json" }
    func runPath(_ key: StageKey) -> String { "\(root)/runs/\(key.hex.prefix(2))/\(key.hex).json" }
    func keyLockPath(_ key: StageKey) -> String { "\(root)/locks/\(key.hex).lock" }
    var storeLockPath: String { "\(root)/lock" }
    var tmpDirectory: String { "\(root)/tmp" }

    /// The path of an artifact's HDF5 file (it may not exist).
    public func path(of id: ArtifactID) -> String { objectPath(id) }

    func newTemporaryPath(_ suffix: String = ".h5") -> String { "\(tmpDirectory)/\(POSIX.uniqueSuffix())\(suffix)" }

    // MARK: Locks

    /// Held (shared) by everything that adds to the store; gc takes it exclusively.
    func sharedStoreLock() throws -> FileLock { try FileLock.acquire(storeLockPath, .shared) }

    /// Removes leftovers of killed writers from tmp/ — only when no other process holds the store
    /// lock, since a live writer's temp file looks the same as a dead one's.
    @discardableResult
    func sweepTemporaryFiles() -> Int {
        guard repairs, let lock = FileLock.tryAcquire(storeLockPath, .exclusive) else { return 0 }
        defer { lock.release() }
        return removeTemporaryFilesLocked()
    }

    func removeTemporaryFilesLocked() -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: tmpDirectory)) ?? []
        for entry in entries { try? FileManager.default.removeItem(atPath: "\(tmpDirectory)/\(entry)") }
        return entries.count
    }

    /// Resolves a full id, or a unique prefix of at least 4 hex digits, to an artifact in the store.
    public func resolve(_ text: String) throws -> ArtifactID {
        if let id = ArtifactID(text) { return id }
        let lower = text.lowercased()
        guard lower.count >= 4, lower.allSatisfy({ $0.isHexDigit }) else {
            throw StoreError.invalidName(text, "an artifact id is 64 hex digits (or a unique prefix of at least 4)")
        }
        let matches = try allObjectIDs().filter { $0.hex.hasPrefix(lower) }
        guard matches.count == 1 else {
            throw matches.isEmpty ? StoreError.notFound("artifact \(text)")
                : StoreError.invalidName(text, "ambiguous: matches \(matches.count) artifacts")
        }
        return matches[0]
    }

    /// Every artifact file in objects/, by id.
    func allObjectIDs() throws -> [ArtifactID] {
        var ids: [ArtifactID] = []
        let objects = "\(root)/objects"
        for shard in (try? FileManager.default.contentsOfDirectory(atPath: objects)) ?? [] {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "\(objects)/\(shard)")) ?? []
            where entry.hasSuffix(".h5") {
                if let id = ArtifactID(String(entry.dropLast(3))) { ids.append(id) }
            }
        }
        return ids.sorted()
    }
}
