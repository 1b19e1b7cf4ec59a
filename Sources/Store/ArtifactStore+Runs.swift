import Foundation

/// One recorded stage run: what went in (the key's ingredients), what came out, and when and where.
public struct RunRecord: Sendable, Hashable {
    public var key: StageKey
    public var stage: String
    public var stageVersion: Int
    /// The parameters' canonical JSON, exactly as hashed into the key.
    public var parametersJSON: String
    public var inputs: [String: ArtifactID]
    public var outputs: [String: ArtifactID]
    public var started: Date
    public var finished: Date
    public var host: String
    /// Free-form provenance: git SHA, BLAS thread count, atalp version...
    public var info: [String: String]

    /// A record for `spec`'s run, finished now.
    public init(spec: StageSpec, outputs: [String: ArtifactID], started: Date, info: [String: String] = [:]) throws {
        key = try spec.key()
        stage = spec.stage
        stageVersion = spec.implementationVersion
        parametersJSON = spec.parameters.canonicalJSON
        inputs = spec.inputs
        self.outputs = outputs
        self.started = started
        finished = Date()
        host = ProcessInfo.processInfo.hostName
        self.info = info
    }

    var json: [String: Any] {
        ["key": key.hex, "stage": stage, "stage_version": stageVersion, "params": parametersJSON,
         "inputs": JSONFile.json(inputs), "outputs": JSONFile.json(outputs),
         "started": started.timeIntervalSince1970, "finished": finished.timeIntervalSince1970,
         "host": host, "info": info, "key_schema": StageKey.schemaVersion]
    }

    /// Parses a record and checks that its key really is the hash of its stage, version, parameters
    /// and inputs — a record edited by hand (or tampered with in an export) is refused.
    init(json: [String: Any], file: String) throws {
        func bad(_ why: String) -> StoreError { .invalidFile(path: file, reason: "invalid run record: \(why)") }
        guard let keyText = json["key"] as? String, let key = StageKey(keyText) else { throw bad("no valid 'key'") }
        guard let stage = json["stage"] as? String, let version = json["stage_version"] as? Int,
              let params = json["params"] as? String else { throw bad("missing stage, stage_version or params") }
        guard let inputs = JSONFile.ids(json["inputs"] ?? [String: String]()),
              let outputs = JSONFile.ids(json["outputs"]) else { throw bad("invalid inputs or outputs") }
        let recomputed = try StageKey(stage: stage, implementationVersion: version, parametersJSON: params, inputs: inputs)
        guard recomputed == key else { throw bad("key \(key.short)… does not match its contents (they hash to \(recomputed.short)…)") }
        self.key = key
        self.stage = stage
        stageVersion = version
        parametersJSON = params
        self.inputs = inputs
        self.outputs = outputs
        started = Date(timeIntervalSince1970: json["started"] as? Double ?? 0)
        finished = Date(timeIntervalSince1970: json["finished"] as? Double ?? 0)
        host = json["host"] as? String ?? ""
        info = json["info"] as? [String: String] ?? [:]
    }
}

/// Whether a stage key can be served from the store, and if not, why.
public enum KeyStatus: Sendable, Equatable {
    /// Recorded, and every output is present and intact.
    case fresh([String: ArtifactID])
    /// Never run (or its record was removed by gc).
    case neverRun
    /// Its record exists but names an output that is gone.
    case missingOutput(role: String, id: ArtifactID)
    /// An output's content no longer matched its id; it was quarantined (by a store that `repairs`).
    case corruptOutput(role: String, id: ArtifactID, reason: String)
    /// An output cannot be checked now (I/O error, another process's lock): neither fresh nor to be
    /// recomputed.
    case unavailableOutput(role: String, id: ArtifactID, reason: String)
    /// Its run record cannot be read.
    case unreadableRecord(String)

    /// A one-line explanation, in the vocabulary of `atalp status`.
    public var reason: String {
        switch self {
        case .fresh: "up to date"
        case .neverRun: "never run"
        case .missingOutput(let role, let id): "missing output '\(role)' (\(id.short))"
        case .corruptOutput(let role, let id, let reason): "corrupt output '\(role)' (\(id.short)): \(reason)"
        case .unavailableOutput(let role, let id, let reason): "output '\(role)' (\(id.short)) cannot be checked now: \(reason)"
        case .unreadableRecord(let why): "unreadable run record: \(why)"
        }
    }
}

/// The result of `ArtifactStore.run`: the outputs, and whether this call computed them.
public struct RunResult: Sendable, Equatable {
    public var key: StageKey
    public var outputs: [String: ArtifactID]
    public var computed: Bool
}

extension ArtifactStore {
    /// The outputs recorded for `key`, if every one is present and intact; nil otherwise (see `status`).
    /// A cache hit costs a run-record read and a stat plus a sidecar read per output.
    public func lookup(_ key: StageKey) -> [String: ArtifactID]? {
        if case .fresh(let outputs) = status(key) { return outputs }
        return nil
    }

    /// The outputs of `key` if fresh, nil if they must be computed; throws when an output cannot be
    /// checked now, since recomputing an artifact another process holds open is never the fix.
    func cachedOutputs(_ key: StageKey) throws -> [String: ArtifactID]? {
        switch status(key) {
        case .fresh(let outputs): return outputs
        case .unavailableOutput(_, _, let reason): throw StoreError.unavailable(reason)
        default: return nil
        }
    }

    /// Why `key` is or is not served from the store.
    public func status(_ key: StageKey) -> KeyStatus {
        let record: RunRecord
        do {
            guard let found = try runRecord(key) else { return .neverRun }
            record = found
        } catch {
            return .unreadableRecord("\(error)")
        }
        for role in record.outputs.keys.sorted() {
            let id = record.outputs[role]!
            switch state(of: id) {
            case .present: continue
            case .missing: return .missingOutput(role: role, id: id)
            case .corrupt(let reason): return .corruptOutput(role: role, id: id, reason: reason)
            case .unavailable(let reason): return .unavailableOutput(role: role, id: id, reason: reason)
            }
        }
        return .fresh(record.outputs)
    }

    /// The run record stored for `key`, if any.
    public func runRecord(_ key: StageKey) throws -> RunRecord? {
        let path = runPath(key)
        guard let json = try JSONFile.read(path) else { return nil }
        return try RunRecord(json: json, file: path)
    }

    /// Records a finished run. Every output must already be in the store (put them first): the record
    /// is the "done" marker, written last.
    public func record(_ run: RunRecord) throws {
        for (role, id) in run.outputs where state(of: id) != .present {
            throw StoreError.notFound("output '\(role)' (artifact \(id)) of run \(run.key.short)")
        }
        let lock = try sharedStoreLock()
        defer { lock.release() }
        let path = runPath(run.key)
        try POSIX.makeDirectories(POSIX.directory(of: path))
        try JSONFile.write(run.json, to: path)
        try? FileManager.default.removeItem(atPath: "\(root)/work/\(run.key.hex)")
    }

    /// A directory where the stage computing `key` may keep state that must survive a crash, such as
    /// training checkpoints to resume from (write them with `HDF5File.write`, which is atomic).
    /// It lives at work/<key>/, persists until the run is recorded (then `record` removes it), and is
    /// not part of any artifact. Use it only while holding the key's lock.
    public func workDirectory(_ key: StageKey) throws -> String {
        let path = "\(root)/work/\(key.hex)"
        try POSIX.makeDirectories(path)
        return path
    }

    /// Every run record in the store (unreadable ones skipped), newest first.
    public func runRecords() throws -> [RunRecord] {
        var records: [RunRecord] = []
        let runs = "\(root)/runs"
        for shard in (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? [] {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "\(runs)/\(shard)")) ?? []
            where entry.hasSuffix(".json") && !entry.hasPrefix(".") {
                let path = "\(runs)/\(shard)/\(entry)"
                if let json = try? JSONFile.read(path), let record = try? RunRecord(json: json, file: path) {
                    records.append(record)
                }
            }
        }
        return records.sorted { ($0.finished, $0.key) > ($1.finished, $1.key) }
    }

    /// Runs `body` while holding the lock of `key`: across processes and threads, one holder at a time.
    /// Waits for a holder (forever, or `timeout` seconds); a holder that dies releases the lock at once
    /// (kernel flock). Also holds the store lock shared, so gc cannot remove what `body` puts before it
    /// is recorded.
    public func withLock<T>(_ key: StageKey, timeout: Double? = nil, _ body: () throws -> T) throws -> T {
        let storeLock = try FileLock.acquire(storeLockPath, .shared, timeout: timeout)
        defer { storeLock.release() }
        let keyLock = try FileLock.acquire(keyLockPath(key), .exclusive, timeout: timeout, recordHolder: true)
        defer { keyLock.release() }
        return try body()
    }

    /// The runner's primitive: serves `spec` from the cache, or computes it exactly once.
    ///
    /// Looks `spec`'s key up; on a miss takes the key's lock, looks again (another process may have
    /// finished it while we waited), and only then calls `compute`, which puts the outputs and returns
    /// their ids by role; the run record is written last. A process killed inside `compute` leaves no
    /// record, so the next call computes again.
    ///
    ///     let result = try store.run(spec) {
    ///         ["model": try store.put(ArtifactMetadata(kind: "checkpoint", producedBy: spec)) { ... }]
    ///     }
    public func run(_ spec: StageSpec, info: [String: String] = [:], timeout: Double? = nil,
                    _ compute: () throws -> [String: ArtifactID]) throws -> RunResult {
        let key = try spec.key()
        if let outputs = try cachedOutputs(key) { return RunResult(key: key, outputs: outputs, computed: false) }
        return try withLock(key, timeout: timeout) {
            if let outputs = try cachedOutputs(key) { return RunResult(key: key, outputs: outputs, computed: false) }
            let started = Date()
            let outputs = try compute()
            try record(RunRecord(spec: spec, outputs: outputs, started: started, info: info))
            return RunResult(key: key, outputs: outputs, computed: true)
        }
    }
}
