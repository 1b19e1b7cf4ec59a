#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What the store knows about one artifact without reading its datasets.
public struct ArtifactInfo: Sendable, Hashable {
    public var id: ArtifactID
    public var kind: String
    public var stage: String
    public var inputs: [String: ArtifactID]
    public var bytes: Int
    public var created: Date
    public var path: String
}

/// The integrity of one stored artifact.
public enum ArtifactState: Sendable, Equatable {
    case present
    case missing
    /// Its content no longer hashes to its id, or its bytes are not HDF5: proven damage. A store
    /// opened with `repairs` moved it to quarantine/.
    case corrupt(String)
    /// It cannot be checked now: an I/O error, or another process holds it open for writing (its
    /// HDF5 file lock). Not evidence of damage: nothing is moved, and nothing recomputes it.
    case unavailable(String)
}

extension ArtifactStore {
    /// Writes a new artifact and returns its id. `body` writes the datasets (and any extra
    /// attributes); the store adds `metadata` as root attributes. The file is built in tmp/, its id
    /// computed from the logical content while writing, then it is fsynced and renamed into
    /// objects/. Writing content that is already stored is a no-op returning the same id.
    ///
    ///     let id = try store.put(ArtifactMetadata(kind: "dataset")) { a in
    ///         try a.write("images", uint8: pixels, shape: [60000, 28, 28])
    ///         try a.write("labels", int64: labels, shape: [60000])
    ///     }
    @discardableResult
    public func put(_ metadata: ArtifactMetadata, compression: HDF5Compression = .none,
                    _ body: (ArtifactWriter) throws -> Void) throws -> ArtifactID {
        let lock = try sharedStoreLock()
        defer { lock.release() }
        let temp = newTemporaryPath()
        var content = ContentHash()
        try HDF5File.writeUnpublished(at: temp) { hdf5 in
            let writer = ArtifactWriter(hdf5: hdf5, compression: compression)
            for (name, value) in metadata.attributes { try writer.setAttributeUnchecked(name, value, on: "/") }
            try body(writer)
            content = writer.content
        }
        let id = content.id
        try publish(temp: temp, id: id, kind: metadata.kind, stage: metadata.stage, inputs: metadata.inputs)
        return id
    }

    /// Moves a complete temp file into objects/ under `id` and writes its sidecar.
    func publish(temp: String, id: ArtifactID, kind: String, stage: String, inputs: [String: ArtifactID]) throws {
        defer { POSIX.unlinkIfPresent(temp) }
        if state(of: id) == .present { return }   // same content already stored
        let destination = objectPath(id)
        let shard = POSIX.directory(of: destination)
        do {
            try POSIX.fsyncFile(temp)
            _ = chmod(temp, 0o444)
            try POSIX.makeDirectories(shard)
            try POSIX.rename(temp, destination)
            try POSIX.fsyncDirectory(shard)
        } catch {
            throw StoreError.io("cannot publish artifact \(id.short): \(error)")
        }
        try writeSidecar(id: id, kind: kind, stage: stage, inputs: inputs, created: Date())
    }

    func writeSidecar(id: ArtifactID, kind: String, stage: String, inputs: [String: ArtifactID], created: Date) throws {
        guard let stamp = Self.stamp(objectPath(id)) else { throw StoreError.notFound("artifact \(id)") }
        try JSONFile.write([
            "id": id.hex, "kind": kind, "stage": stage, "inputs": JSONFile.json(inputs),
            "bytes": stamp.size, "mtime_ns": stamp.mtime, "created": created.timeIntervalSince1970,
        ], to: sidecarPath(id), durable: false)   // a lost or torn sidecar only costs a rehash
    }

    /// Size and modification time (ns) of a file: the cheap fingerprint checked on every lookup.
    static func stamp(_ path: String) -> (size: Int, mtime: Int)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int(st.st_size), Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec))
    }

    /// Whether the artifact is present and intact. Cheap when the file's size and mtime still match
    /// what was recorded when it was last verified (what git's index and DVC's state db do); when they
    /// differ, or the sidecar is missing, the content is rehashed in full, and an artifact whose content
    /// no longer matches its id is moved to quarantine/ and reported corrupt.
    /// (Bytes changed in place with size and mtime deliberately restored get past the cheap check;
    /// `verify` and `read(_:verify: true)` catch those.)
    public func state(of id: ArtifactID) -> ArtifactState {
        let path = objectPath(id)
        guard let stamp = Self.stamp(path) else { return .missing }
        if let sidecar = try? JSONFile.read(sidecarPath(id)),
           sidecar["bytes"] as? Int == stamp.size, sidecar["mtime_ns"] as? Int == stamp.mtime {
            return .present
        }
        return deepCheck(id)
    }

    /// Rehashes the artifact's content. Only proof of damage — content that hashes to another id, or
    /// bytes HDF5 cannot decode — makes it `.corrupt` (and quarantined, when this store `repairs`).
    /// An I/O error is `.unavailable`. So is damage seen while another process holds the file's
    /// lock (an h5py `File(path, "r+")` left open, say), since a writer may be half-way: the check
    /// waits up to `lockWait` seconds for the lock to be released and checks again, then gives up
    /// with a message that names the file and says what to do.
    func deepCheck(_ id: ArtifactID) -> ArtifactState {
        let path = objectPath(id)
        let deadline = Date().addingTimeInterval(Self.lockWait)
        while true {
            guard POSIX.exists(path) else { return .missing }
            if let problem = POSIX.openProblem(path) { return .unavailable("\(path): cannot open: \(problem)") }
            let damage: String
            do {
                let (content, metadata) = try HDF5File.read(from: path) { reader in
                    (try ContentHash.read(from: reader), try? StoredMetadata.read(from: reader))
                }
                let actual = content.id
                if actual == id {
                    let old = try? JSONFile.read(sidecarPath(id))
                    let created = (old?["created"] as? Double).map { Date(timeIntervalSince1970: $0) } ?? Date()
                    try? writeSidecar(id: id, kind: metadata?.kind ?? "", stage: metadata?.stage ?? "",
                                      inputs: metadata?.inputs ?? [:], created: created)
                    return .present
                }
                damage = "content hashes to \(actual.short)…, not its id"
            } catch {
                damage = "unreadable: \(error)"
            }
            guard let holder = FileLock.conflictingHolder(path) else {
                if repairs { quarantine(id, reason: damage) }
                return .corrupt(damage)
            }
            if Date() >= deadline {
                return .unavailable("\(path) is open for writing in another process (\(holder) holds its HDF5 file lock), "
                                    + "and reads as damaged (\(damage)) while it is. Stored artifacts are read-only: close it "
                                    + "there (h5py: f.close(), and open artifacts with mode \"r\"), then run again. "
                                    + "Nothing was moved or recomputed.")
            }
            usleep(100_000)
        }
    }

    /// How long a check waits for another process to release an artifact's file lock (seconds):
    /// `$ATALP_LOCK_WAIT`, else 10.
    static var lockWait: Double {
        ProcessInfo.processInfo.environment["ATALP_LOCK_WAIT"].flatMap(Double.init) ?? 10
    }

    /// Moves a damaged artifact out of objects/ (to quarantine/<id>.<time>.h5, with a .txt saying why),
    /// so nothing uses it and the next run recomputes it. Never on a store opened without `repairs`.
    func quarantine(_ id: ArtifactID, reason: String) {
        guard repairs else { return }
        let stamp = Int(Date().timeIntervalSince1970)
        let base = "\(root)/quarantine/\(id.hex).\(stamp)"
        try? POSIX.makeDirectories("\(root)/quarantine")
        if (try? POSIX.rename(objectPath(id), base + ".h5")) == nil { POSIX.unlinkIfPresent(objectPath(id)) }
        POSIX.unlinkIfPresent(sidecarPath(id))
        try? Data("\(id.hex): \(reason)\n".utf8).write(to: URL(fileURLWithPath: base + ".txt"))
    }

    /// Opens a stored artifact for reading. With `verify`, its content is rehashed first (reading every
    /// dataset once more); otherwise only the cheap size-and-mtime check runs.
    /// Throws `StoreError.notFound`, `.corrupt` (after quarantining it) or `.unavailable` instead of
    /// handing out bad data.
    public func read<T>(_ id: ArtifactID, verify: Bool = false, _ body: (HDF5Reader) throws -> T) throws -> T {
        let state = verify ? deepCheck(id) : state(of: id)
        switch state {
        case .missing: throw StoreError.notFound("artifact \(id)")
        case .corrupt(let reason): throw StoreError.corrupt(path: objectPath(id), reason: reason)
        case .unavailable(let reason): throw StoreError.unavailable(reason)
        case .present: return try HDF5File.read(from: objectPath(id), body)
        }
    }

    /// The artifact's metadata attributes (kind, stage, parameters, inputs).
    public func metadata(of id: ArtifactID) throws -> StoredMetadata {
        try read(id) { try StoredMetadata.read(from: $0) }
    }

    /// Listing facts for one artifact, from its sidecar (or its file when the sidecar is gone).
    public func info(_ id: ArtifactID) throws -> ArtifactInfo {
        let path = objectPath(id)
        guard let stamp = Self.stamp(path) else { throw StoreError.notFound("artifact \(id)") }
        if let sidecar = try? JSONFile.read(sidecarPath(id)), let kind = sidecar["kind"] as? String {
            return ArtifactInfo(id: id, kind: kind, stage: sidecar["stage"] as? String ?? "",
                                inputs: JSONFile.ids(sidecar["inputs"]) ?? [:], bytes: stamp.size,
                                created: Date(timeIntervalSince1970: sidecar["created"] as? Double ?? 0), path: path)
        }
        let meta = try? HDF5File.read(from: path) { try StoredMetadata.read(from: $0) }
        var st = stat()
        _ = stat(path, &st)
        return ArtifactInfo(id: id, kind: meta?.kind ?? "?", stage: meta?.stage ?? "", inputs: meta?.inputs ?? [:],
                            bytes: stamp.size, created: Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec)), path: path)
    }

    /// Every artifact in the store, oldest first.
    public func artifacts() throws -> [ArtifactInfo] {
        try allObjectIDs().compactMap { try? info($0) }.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }
}
