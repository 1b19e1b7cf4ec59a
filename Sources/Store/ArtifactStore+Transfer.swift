import Foundation

/// What `import` did.
public struct ImportReport: Sendable {
    public var added: [ArtifactID] = []
    public var alreadyPresent: [ArtifactID] = []
    public var runsAdded: [StageKey] = []
    public var runsAlreadyPresent: [StageKey] = []
}

/// Export files: one HDF5 file, readable with h5py like any artifact.
///
///     /                      attrs: format = "atalp-export", format_version = 1,
///                                   runs = [run record JSON, ...] (records whose outputs are all included)
///     /artifacts/<id>/...    each artifact exactly as stored: its root attributes on the group, its
///                            groups and datasets below it
extension ArtifactStore {
    static let exportFormat = "atalp-export"

    /// Writes `ids` (and, with `includeInputs`, everything they were made from, transitively) with the
    /// run records that produced them into `file`, atomically.
    @discardableResult
    public func export(_ ids: [ArtifactID], to file: String, includeInputs: Bool = false) throws -> [ArtifactID] {
        var selected = Set<ArtifactID>()
        var frontier = ids
        while let id = frontier.popLast() {
            guard selected.insert(id).inserted else { continue }
            guard state(of: id) == .present else { throw StoreError.notFound("artifact \(id)") }
            if includeInputs { frontier += try metadata(of: id).inputs.values }
        }
        let runs = try runRecords().filter { !$0.outputs.isEmpty && $0.outputs.values.allSatisfy(selected.contains) }
        let sorted = selected.sorted()
        try HDF5File.write(to: file) { out in
            try out.setAttribute("format", .string(Self.exportFormat))
            try out.setAttribute("format_version", .int(1))
            let texts = try runs.map { String(decoding: try JSONSerialization.data(withJSONObject: $0.json, options: [.sortedKeys]), as: UTF8.self) }
            try out.setAttribute("runs", .strings(texts))
            for id in sorted {
                try read(id) { source in try Self.copy(from: source, root: "/", to: out, prefix: "artifacts/\(id.hex)") }
            }
        }
        return sorted
    }

    /// Imports an export file. Everything is checked before anything is written: every artifact's name
    /// must be an id and its content must hash to it, and every run record's key must match its
    /// contents and its outputs must be in the file or the store. One failure refuses the whole file
    /// and leaves the store unchanged. Importing the same file twice adds nothing the second time.
    /// Names in the file are never used as paths: files are created only as
    /// tmp/<random>.h5 and objects/<id[0:2]>/<id>.h5 from validated ids.
    @discardableResult
    public func importFile(_ file: String) throws -> ImportReport {
        func refuse(_ why: String) -> StoreError { .invalidFile(path: file, reason: "\(why); nothing imported") }
        // Check.
        let (names, runs): ([ArtifactID], [RunRecord]) = try HDF5File.read(from: file) { reader in
            guard reader.attributeExists("format"), try reader.attribute("format")?.stringValue == Self.exportFormat else {
                throw refuse("not an atalp export file (no format = \"atalp-export\" attribute)")
            }
            var ids: [ArtifactID] = []
            for object in try reader.objects() {
                let parts = object.path.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count == 1 && parts[0] != "artifacts" {
                    throw refuse("unexpected object '\(object.path)' at the top level")
                }
                guard parts.count == 2, parts[0] == "artifacts" else { continue }
                guard !object.isDataset, let id = ArtifactID(String(parts[1])) else {
                    throw refuse("invalid artifact name '\(parts[1])' (an artifact is a group named by its 64-hex-digit id)")
                }
                let actual = try ContentHash.read(from: reader, root: "artifacts/\(id.hex)").id
                guard actual == id else {
                    throw refuse("artifact \(id.short)… was modified: its content hashes to \(actual.short)…")
                }
                ids.append(id)
            }
            let texts = try reader.attribute("runs")?.stringsValue ?? []
            let records = try texts.map { text -> RunRecord in
                guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                    throw refuse("a run record is not a JSON object")
                }
                do { return try RunRecord(json: json, file: file) } catch { throw refuse("\(error)") }
            }
            return (ids, records)
        }
        let inFile = Set(names)
        for run in runs {
            for (role, id) in run.outputs where !inFile.contains(id) && state(of: id) != .present {
                throw refuse("run \(run.key.short)… names output '\(role)' (\(id.short)…), which is neither in the file nor in the store")
            }
        }
        // Write.
        let lock = try sharedStoreLock()
        defer { lock.release() }
        var report = ImportReport()
        for id in names {
            if state(of: id) == .present {
                report.alreadyPresent.append(id)
                continue
            }
            let temp = newTemporaryPath()
            var written = ContentHash()
            var metadata: StoredMetadata?
            try HDF5File.read(from: file) { reader in
                metadata = try? StoredMetadata.read(from: reader, root: "artifacts/\(id.hex)")
                try HDF5File.writeUnpublished(at: temp) { out in
                    let writer = ArtifactWriter(hdf5: out, compression: .none)
                    try Self.copy(from: reader, root: "artifacts/\(id.hex)", to: writer)
                    written = writer.content
                }
            }
            guard written.id == id else {
                POSIX.unlinkIfPresent(temp)
                throw StoreError.corrupt(path: file, reason: "artifact \(id.short)… changed while importing")
            }
            try publish(temp: temp, id: id, kind: metadata?.kind ?? "", stage: metadata?.stage ?? "", inputs: metadata?.inputs ?? [:])
            report.added.append(id)
        }
        for run in runs {
            if (try? runRecord(run.key)) != nil {
                report.runsAlreadyPresent.append(run.key)
            } else {
                try POSIX.makeDirectories(POSIX.directory(of: runPath(run.key)))
                try JSONFile.write(run.json, to: runPath(run.key))
                report.runsAdded.append(run.key)
            }
        }
        return report
    }

    /// Copies the artifact rooted at `root` in `source` below `prefix` in `out`.
    static func copy(from source: HDF5Reader, root: String, to out: HDF5Writer, prefix: String) throws {
        try out.createGroup(prefix)
        try copyObjects(from: source, root: root,
                        group: { try out.createGroup("\(prefix)/\($0)") },
                        dataset: { try out.write("\(prefix)/\($0)", raw: $1, dtype: $2, shape: $3) },
                        attribute: { try out.setAttribute($0, $1, on: $2.isEmpty ? prefix : "\(prefix)/\($2)") })
    }

    /// Copies the artifact rooted at `root` in `source` into a new artifact file, hashing as it goes.
    static func copy(from source: HDF5Reader, root: String, to writer: ArtifactWriter) throws {
        try copyObjects(from: source, root: root,
                        group: { try writer.createGroup($0) },
                        dataset: { try writer.writeRaw($0, $1, dtype: $2, shape: $3) },
                        attribute: { try writer.setAttributeUnchecked($0, $1, on: $2.isEmpty ? "/" : $2) })
    }

    private static func copyObjects(from source: HDF5Reader, root: String,
                                    group: (String) throws -> Void,
                                    dataset: (String, UnsafeRawBufferPointer, HDF5DType, [Int]) throws -> Void,
                                    attribute: (String, HDF5Attribute, String) throws -> Void) throws {
        let prefix = root == "/" ? "" : root + "/"
        func copyAttributes(_ path: String, _ relative: String) throws {
            for name in try source.attributeNames(on: path) {
                if let value = try source.attribute(name, on: path) { try attribute(name, value, relative) }
            }
        }
        try copyAttributes(root, "")
        for object in try source.objects() where prefix.isEmpty || object.path.hasPrefix(prefix) {
            let relative = String(object.path.dropFirst(prefix.count))
            if object.isDataset {
                let raw = try source.readRaw(object.path)
                try raw.bytes.withUnsafeBytes { try dataset(relative, $0, raw.dtype, raw.shape) }
            } else {
                try group(relative)
            }
            try copyAttributes(object.path, relative)
        }
    }
}
