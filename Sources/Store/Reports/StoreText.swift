import Foundation

/// The text the `atalp store` commands print, kept here (not in the CLI) so tests can check it.
public enum StoreText {
    /// "0 B", "812 B", "1.5 KB", "44.9 MB", "2.1 GB" (powers of 1000, like `ls -h --si`).
    public static func size(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// "12s", "5m", "3h", "2d" — age of `date` at `now`.
    public static func age(_ date: Date, now: Date = Date()) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" }
        if seconds < 86400 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }

    /// `atalp store ls`: one artifact a line, oldest first.
    ///
    ///     ID            KIND        SIZE     AGE  STAGE       INPUTS
    ///     3fa9c1e0b2d4  dataset     47.0 MB  2h   ingest      -
    ///     9b01d7aa5e33  checkpoint  44.9 MB  5m   train       data=3fa9c1e0b2d4
    public static func list(_ artifacts: [ArtifactInfo], pins: [Pin] = [], now: Date = Date()) -> String {
        guard !artifacts.isEmpty else { return "(the store is empty)\n" }
        let pinned = Dictionary(grouping: pins, by: \.id).mapValues { $0.map(\.name) }
        var rows = [["ID", "KIND", "SIZE", "AGE", "STAGE", "INPUTS", "PINS"]]
        for a in artifacts {
            let inputs = a.inputs.keys.sorted().map { "\($0)=\(a.inputs[$0]!.short)" }.joined(separator: ",")
            let pinNames = (pinned[a.id] ?? []).map { $0 == a.id.hex ? "pinned" : $0 }.joined(separator: ",")
            rows.append([a.id.short, a.kind, size(a.bytes), age(a.created, now: now), a.stage.isEmpty ? "-" : a.stage,
                         inputs.isEmpty ? "-" : inputs, pinNames.isEmpty ? "-" : pinNames])
        }
        let total = artifacts.reduce(0) { $0 + $1.bytes }
        return table(rows) + "\(artifacts.count) artifact\(artifacts.count == 1 ? "" : "s"), \(size(total))\n"
    }

    /// `atalp store show ID`: everything the store knows about one artifact.
    public static func show(_ id: ArtifactID, in store: ArtifactStore) throws -> String {
        let info = try store.info(id)
        let (meta, datasets, extra): (StoredMetadata, [(String, HDF5DType, [Int])], [(String, HDF5Attribute)]) = try store.read(id) { r in
            let meta = try StoredMetadata.read(from: r)
            let datasets = try r.datasetPaths().map { ($0, try r.dtype(of: $0), try r.shape(of: $0)) }
            let extra = try r.attributeNames().filter { !ArtifactMetadata.reservedAttributes.contains($0) }
                .compactMap { name in try r.attribute(name).map { (name, $0) } }
            return (meta, datasets, extra)
        }
        var out = ""
        out += "id:       \(id.hex)\n"
        out += "file:     \(info.path)\n"
        out += "kind:     \(meta.kind) (format \(meta.formatVersion))\n"
        out += "size:     \(size(info.bytes)), created \(ISO8601DateFormatter().string(from: info.created))\n"
        out += "stage:    \(meta.stage.isEmpty ? "-" : "\(meta.stage) (implementation \(meta.stageVersion))")\n"
        out += "params:   \(meta.parametersJSON)\n"
        out += "inputs:\(meta.inputs.isEmpty ? "   -" : "")\n"
        for role in meta.inputs.keys.sorted() {
            let input = meta.inputs[role]!
            let known = (try? store.info(input)).map { $0.kind } ?? "not in this store"
            out += "  \(role) = \(input.hex) (\(known))\n"
        }
        let runs = try store.runRecords().filter { $0.outputs.values.contains(id) }
        for run in runs {
            let role = run.outputs.first { $0.value == id }!.key
            out += "made by:  run \(run.key.hex) as '\(role)', on \(run.host), \(ISO8601DateFormatter().string(from: run.finished))\n"
            for (k, v) in run.info.sorted(by: { $0.key < $1.key }) { out += "  \(k) = \(v)\n" }
        }
        let pins = try store.pins().filter { $0.id == id }.map(\.name)
        if !pins.isEmpty { out += "pins:     \(pins.joined(separator: ", "))\n" }
        for (name, value) in extra { out += "attr:     \(name) = \(describe(value))\n" }
        out += "datasets:\n"
        var rows: [[String]] = []
        for (path, dtype, shape) in datasets {
            rows.append(["  \(path)", dtype.rawValue, "[" + shape.map(String.init).joined(separator: ", ") + "]"])
        }
        out += rows.isEmpty ? "  -\n" : table(rows)
        return out
    }

    static func describe(_ value: HDF5Attribute) -> String {
        switch value {
        case .string(let s): "\"\(s)\""
        case .int(let v): "\(v)"
        case .double(let v): "\(v)"
        case .ints(let v): "\(v)"
        case .doubles(let v): "\(v)"
        case .strings(let v): "\(v)"
        }
    }

    /// Columns padded to their widest cell, two spaces apart, no trailing spaces.
    public static func table(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.map(\.count).max() ?? 0)).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
