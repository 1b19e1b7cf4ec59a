import Foundation

/// A named GC root: `atalp store pin ID --name NAME`.
public struct Pin: Sendable, Hashable {
    public var name: String
    public var id: ArtifactID
}

/// What gc must keep besides pins: artifact ids and stage keys (whose recorded outputs are kept).
public struct GCRoots: Sendable, Equatable {
    public var ids: Set<ArtifactID>
    public var keys: Set<StageKey>

    public init(ids: Set<ArtifactID> = [], keys: Set<StageKey> = []) {
        self.ids = ids
        self.keys = keys
    }

    public mutating func formUnion(_ other: GCRoots) {
        ids.formUnion(other.ids)
        keys.formUnion(other.keys)
    }
}

/// Where gc's roots come from besides pins. The pipeline module registers a provider that parses
/// the pipeline files and returns the keys of their stages; `atalp store gc` collects them all.
public enum GCRootSources {
    public typealias Provider = @Sendable (ArtifactStore) throws -> GCRoots

    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var providers: [(name: String, provider: Provider)] = []
    }
    private static let registry = Registry()

    /// Adds (or replaces) the provider called `name`.
    public static func register(_ name: String, _ provider: @escaping Provider) {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        registry.providers.removeAll { $0.name == name }
        registry.providers.append((name, provider))
    }

    /// The names of the registered providers.
    public static var names: [String] {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        return registry.providers.map(\.name)
    }

    /// The union of every provider's roots for `store`.
    public static func collect(_ store: ArtifactStore) throws -> GCRoots {
        registry.lock.lock()
        let providers = registry.providers
        registry.lock.unlock()
        var roots = GCRoots()
        for (_, provider) in providers { roots.formUnion(try provider(store)) }
        return roots
    }
}

/// What gc removed (or, with a dry run, would remove).
public struct GCReport: Sendable {
    public var removedArtifacts: [ArtifactInfo] = []
    public var removedRuns: [StageKey] = []
    public var keptArtifacts = 0
    public var keptRuns = 0
    public var removedTemporaryFiles = 0
    public var freedBytes: Int { removedArtifacts.reduce(0) { $0 + $1.bytes } }
}

extension ArtifactStore {
    // MARK: Pins

    /// Pins an artifact under `name` (default: its id), so gc keeps it and everything it was made from.
    @discardableResult
    public func pin(_ id: ArtifactID, name: String? = nil) throws -> Pin {
        guard state(of: id) == .present else { throw StoreError.notFound("artifact \(id)") }
        let name = name ?? id.hex
        try Self.validatePinName(name)
        try Data((id.hex + "\n").utf8).write(to: URL(fileURLWithPath: "\(root)/pins/\(name)"), options: .atomic)
        return Pin(name: name, id: id)
    }

    /// Removes the pin called `name`, or every pin of the artifact `name` names. Returns what it removed.
    @discardableResult
    public func unpin(_ name: String) throws -> [Pin] {
        let pins = try self.pins()
        let removed = pins.filter { $0.name == name } .isEmpty
            ? pins.filter { $0.id.hex == name || ($0.id.hex.hasPrefix(name.lowercased()) && name.count >= 4) }
            : pins.filter { $0.name == name }
        guard !removed.isEmpty else { throw StoreError.notFound("pin \(name)") }
        for pin in removed { POSIX.unlinkIfPresent("\(root)/pins/\(pin.name)") }
        return removed
    }

    /// Every pin, by name.
    public func pins() throws -> [Pin] {
        let directory = "\(root)/pins"
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().compactMap { name in
            guard !name.hasPrefix("."),
                  let text = try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8),
                  let id = ArtifactID(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
            return Pin(name: name, id: id)
        }
    }

    static func validatePinName(_ name: String) throws {
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
        }
        guard !name.isEmpty, name.count <= 200, allowed, !name.hasPrefix(".") else {
            throw StoreError.invalidName(name, "pin names use letters, digits, '.', '_' and '-', and do not start with '.'")
        }
    }

    // MARK: Garbage collection

    /// Mark and sweep. Live: pinned artifacts, `roots.ids`, the recorded outputs of `roots.keys`, and
    /// — transitively — every artifact a live artifact was made from (so provenance stays resolvable).
    /// Removed: every other artifact, every run record with a removed output (unless its key is a root),
    /// leftovers in tmp/ and unused lock files. Holds the store lock exclusively, waiting for running
    /// writers, so nothing being computed right now is swept. With `dryRun`, reports without removing.
    ///
    /// `timeout`: how long to wait for running writers (nil: as long as it takes); then
    /// `StoreError.lockTimeout`.
    public func gc(roots: GCRoots = GCRoots(), dryRun: Bool = false, timeout: Double? = nil) throws -> GCReport {
        let lock = try FileLock.acquire(storeLockPath, .exclusive, timeout: timeout)
        defer { lock.release() }
        var report = GCReport()
        let records = try runRecords()
        var live = Set(try pins().map(\.id)).union(roots.ids)
        for record in records where roots.keys.contains(record.key) { live.formUnion(record.outputs.values) }
        // Close over provenance.
        var frontier = Array(live)
        while let id = frontier.popLast() {
            guard let info = try? info(id) else { continue }
            for input in info.inputs.values where !live.contains(input) {
                live.insert(input)
                frontier.append(input)
            }
        }
        for id in try allObjectIDs() {
            if live.contains(id) {
                report.keptArtifacts += 1
                continue
            }
            if let info = try? info(id) { report.removedArtifacts.append(info) }
            if !dryRun {
                POSIX.unlinkIfPresent(objectPath(id))
                POSIX.unlinkIfPresent(sidecarPath(id))
            }
        }
        for record in records {
            let keep = roots.keys.contains(record.key) || record.outputs.values.allSatisfy { live.contains($0) }
            if keep {
                report.keptRuns += 1
            } else {
                report.removedRuns.append(record.key)
                if !dryRun { POSIX.unlinkIfPresent(runPath(record.key)) }
            }
        }
        if dryRun {
            report.removedTemporaryFiles = ((try? FileManager.default.contentsOfDirectory(atPath: tmpDirectory)) ?? []).count
        } else {
            report.removedTemporaryFiles = removeTemporaryFilesLocked()
            // No one holds a key lock while we hold the store lock exclusively.
            let locks = "\(root)/locks"
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: locks)) ?? [] {
                POSIX.unlinkIfPresent("\(locks)/\(entry)")
            }
        }
        return report
    }
}
