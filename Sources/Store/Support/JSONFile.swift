import Foundation

/// Small JSON documents of the store (sidecars, run records), written atomically: temp file in the
/// same directory, fsync, rename.
enum JSONFile {
    /// With `durable: false` the file is not fsynced: for caches that are rebuilt when lost or torn
    /// (sidecars), where an fsync per artifact would be pure cost.
    static func write(_ object: [String: Any], to path: String, durable: Bool = true) throws {
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        } catch {
            throw StoreError.io("\(path): cannot encode JSON: \(error)")
        }
        let temp = "\(POSIX.directory(of: path))/.\(POSIX.basename(of: path)).tmp-\(POSIX.uniqueSuffix())"
        do {
            try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: temp))
            if durable { try POSIX.fsyncFile(temp) }
            try POSIX.rename(temp, path)
        } catch {
            POSIX.unlinkIfPresent(temp)
            throw StoreError.io("\(path): cannot write: \(error)")
        }
    }

    /// Writes `text` to `path` atomically and durably (temp file, fsync, rename, fsync the directory).
    static func writeText(_ text: String, to path: String) throws {
        let directory = POSIX.directory(of: path)
        let temp = "\(directory)/.\(POSIX.basename(of: path)).tmp-\(POSIX.uniqueSuffix())"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temp))
            try POSIX.fsyncFile(temp)
            try POSIX.rename(temp, path)
            try POSIX.fsyncDirectory(directory)
        } catch {
            POSIX.unlinkIfPresent(temp)
            throw StoreError.io("\(path): cannot write: \(error)")
        }
    }

    /// The object in the file, nil if the file does not exist; throws if it exists but is not a JSON object.
    static func read(_ path: String) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw StoreError.invalidFile(path: path, reason: "not a JSON object")
        }
        return object
    }

    static func ids(_ value: Any?) -> [String: ArtifactID]? {
        guard let dict = value as? [String: String] else { return nil }
        var out: [String: ArtifactID] = [:]
        for (role, hex) in dict {
            guard let id = ArtifactID(hex) else { return nil }
            out[role] = id
        }
        return out
    }

    static func json(_ ids: [String: ArtifactID]) -> [String: String] { ids.mapValues(\.hex) }
}
