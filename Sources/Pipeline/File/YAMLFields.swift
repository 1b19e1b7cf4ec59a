import Foundation
import Store
import Yams

/// A YAML mapping read key by key with types checked: every read records the key as known, and
/// `finish()` rejects whatever is left, so a typo (`bta: 1`) is an error naming the file, line and key
/// instead of a setting silently ignored. This is the line-aware `SettingsReader` that configuration
/// types (`Defense`, `PGDConfiguration`, `TrainingConfiguration`) decode pipeline files through.
final class YAMLFields: SettingsReader {
    let file: String
    /// Key path of this mapping ("" at the root, `models[2].defense` below).
    let path: String
    let line: Int?
    private(set) var pairs: [(key: String, value: Node, line: Int?)] = []
    private var known: Set<String> = []
    /// Mappings below this one, made once each, so that `finish()` also checks them.
    private var children: [String: YAMLFields] = [:]

    init(_ node: Node, file: String, path: String) throws {
        self.file = file
        self.path = path
        line = node.mark?.line
        guard let mapping = node.mapping else {
            throw PipelineError(file: file, line: node.mark?.line, key: path, "expected a mapping (key: value lines), found \(Self.describe(node))")
        }
        var seen: Set<String> = []
        for (k, v) in mapping {
            guard let name = k.scalar?.string else {
                throw PipelineError(file: file, line: k.mark?.line, key: path, "keys must be plain strings")
            }
            guard seen.insert(name).inserted else {
                throw PipelineError(file: file, line: k.mark?.line, key: sub(name), "duplicate key")
            }
            pairs.append((name, v, k.mark?.line))
        }
    }

    func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { pairs.contains { $0.key == key } }

    /// The raw node of `key`, marking it known.
    func node(_ key: String) -> Node? {
        known.insert(key)
        guard let pair = pairs.first(where: { $0.key == key }) else { return nil }
        if pair.value.scalar.map({ $0.style == .plain && ["~", "null", ""].contains($0.string) }) == true { return nil }
        return pair.value
    }

    func error(_ key: String, _ message: String) -> any Error {
        let node = pairs.first { $0.key == key }
        return PipelineError(file: file, line: node?.value.mark?.line ?? node?.line ?? line, key: sub(key), message)
    }

    func required<T>(_ key: String, _ read: (String) throws -> T?) throws -> T {
        guard let value = try read(key) else {
            throw PipelineError(file: file, line: line, key: sub(key), "missing required key")
        }
        return value
    }

    func string(_ key: String) throws -> String? {
        guard let n = node(key) else { return nil }
        guard let s = n.scalar else { throw error(key, "expected a string, found \(Self.describe(n))") }
        return s.string
    }

    func int(_ key: String) throws -> Int? {
        guard let n = node(key) else { return nil }
        return try Self.int(n, file: file, key: sub(key))
    }

    func double(_ key: String) throws -> Double? {
        guard let n = node(key) else { return nil }
        return try Self.double(n, file: file, key: sub(key))
    }

    func bool(_ key: String) throws -> Bool? {
        guard let n = node(key) else { return nil }
        guard let s = n.scalar, s.style == .plain, let b = ["true": true, "false": false, "yes": true, "no": false][s.string.lowercased()] else {
            throw error(key, "expected true or false, found \(Self.describe(n))")
        }
        return b
    }

    func list(_ key: String) throws -> [Node]? {
        guard let n = node(key) else { return nil }
        if n.scalar != nil { return [n] }   // `epsilons: 0.25` means [0.25]
        guard let seq = n.sequence else { throw error(key, "expected a list, found \(Self.describe(n))") }
        return Array(seq)
    }

    func doubles(_ key: String) throws -> [Double]? {
        try list(key)?.enumerated().map { try Self.double($1, file: file, key: "\(sub(key))[\($0)]") }
    }

    func ints(_ key: String) throws -> [Int]? {
        try list(key)?.enumerated().map { try Self.int($1, file: file, key: "\(sub(key))[\($0)]") }
    }

    func strings(_ key: String) throws -> [String]? {
        try list(key)?.enumerated().map { i, n in
            guard let s = n.scalar else {
                throw PipelineError(file: file, line: n.mark?.line, key: "\(sub(key))[\(i)]", "expected a string, found \(Self.describe(n))")
            }
            return s.string
        }
    }

    func fields(_ key: String) throws -> YAMLFields? {
        guard let n = node(key) else { return nil }
        if let child = children[key] { return child }
        let child = try YAMLFields(n, file: file, path: sub(key))
        children[key] = child
        return child
    }

    func nested(_ key: String) throws -> (any SettingsReader)? { try fields(key) }

    /// A name (of the pipeline, a model, an attack, an analysis): letters, digits and `symbols` only,
    /// since names become stage names, file names and keys. Required unless `fallback` is given.
    func name(of what: String, symbols: String = "-_.", fallback: String? = nil) throws -> String {
        let name = try fallback.map { try string("name") ?? $0 } ?? required("name", string)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || symbols.contains($0) }) else {
            let listed = symbols.map { "'\($0)'" }
            throw error("name", "\(what) name may hold letters, digits, \(listed.dropLast().joined(separator: ", ")) and \(listed.last!) only")
        }
        return name
    }

    /// One of `choices`, by its spelling in the file.
    func choice<T>(_ key: String, _ choices: [String: T]) throws -> T? {
        guard let text = try string(key) else { return nil }
        guard let value = choices[text] else {
            throw error(key, "unknown value '\(text)' (expected one of: \(choices.keys.sorted().joined(separator: ", ")))")
        }
        return value
    }

    /// Rejects every key that no read asked for, here and in the mappings read below.
    func finish() throws {
        for child in children.values { try child.finish() }
        if let unknown = pairs.first(where: { !known.contains($0.key) }) {
            let expected = known.sorted().joined(separator: ", ")
            throw PipelineError(file: file, line: unknown.line, key: sub(unknown.key),
                                "unknown key '\(unknown.key)'" + (expected.isEmpty ? "" : " (expected one of: \(expected))"))
        }
    }

    static func int(_ n: Node, file: String, key: String) throws -> Int {
        guard let s = n.scalar, s.style == .plain, let v = Int(s.string.replacingOccurrences(of: "_", with: "")) else {
            throw PipelineError(file: file, line: n.mark?.line, key: key, "expected an integer, found \(describe(n))")
        }
        return v
    }

    /// A number: `0.25`, `1e-3`, `64/256` (a fraction, as the paper writes ε and step sizes).
    static func double(_ n: Node, file: String, key: String) throws -> Double {
        guard let s = n.scalar, s.style == .plain else {
            throw PipelineError(file: file, line: n.mark?.line, key: key, "expected a number, found \(describe(n))")
        }
        let text = s.string.replacingOccurrences(of: " ", with: "")
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, let a = Double(parts[0]), let b = Double(parts[1]), b != 0 { return a / b }
        guard parts.count == 1, let v = Double(text), v.isFinite else {
            throw PipelineError(file: file, line: n.mark?.line, key: key, "expected a number, found \(describe(n))")
        }
        return v
    }

    static func describe(_ n: Node) -> String {
        switch n {
        case .scalar(let s): return "\"\(s.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}
