import Foundation

/// The one decoder of settings: a mapping read key by key with types checked. Every configuration
/// type (a defense, a PGD attack, a training schedule) decodes itself from a `SettingsReader` and
/// encodes itself as a `ParameterValue` with the same keys, so a pipeline file (YAML, line-aware:
/// the pipeline's `YAMLFields`), a checkpoint attribute and a stage key cannot disagree on what a key
/// means. `finish()` rejects every key no read asked for, naming where it came from.
///
///     let defense = try Defense(from: ParameterFields(json: attribute, source: "ckpt.h5: defense"))
public protocol SettingsReader: AnyObject {
    /// Whether `key` is present (reading nothing).
    func has(_ key: String) -> Bool
    func string(_ key: String) throws -> String?
    func int(_ key: String) throws -> Int?
    /// A number; integers are numbers too.
    func double(_ key: String) throws -> Double?
    func bool(_ key: String) throws -> Bool?
    func ints(_ key: String) throws -> [Int]?
    func doubles(_ key: String) throws -> [Double]?
    /// The mapping under `key`.
    func nested(_ key: String) throws -> (any SettingsReader)?
    /// An error about `key`, naming the file, line and key path where the reader knows them.
    func error(_ key: String, _ message: String) -> any Error
    /// Rejects every key that no read asked for.
    func finish() throws
}

extension SettingsReader {
    /// A value that must be present.
    public func required<T>(_ key: String, _ read: (String) throws -> T?) throws -> T {
        guard let value = try read(key) else { throw error(key, "missing required key") }
        return value
    }

    /// One case of a string enumeration, by its raw value.
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type = T.self) throws -> T? where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = T(rawValue: text) else {
            throw error(key, "unknown value '\(text)' (expected one of: \(T.allCases.map(\.rawValue).sorted().joined(separator: ", ")))")
        }
        return value
    }

    /// A number that must satisfy `check` (`"must be ≥ 0"` otherwise).
    public func double(_ key: String, where check: (Double) -> Bool, _ requirement: String) throws -> Double? {
        guard let v = try double(key) else { return nil }
        guard check(v) else { throw error(key, requirement) }
        return v
    }

    public func int(_ key: String, where check: (Int) -> Bool, _ requirement: String) throws -> Int? {
        guard let v = try int(key) else { return nil }
        guard check(v) else { throw error(key, requirement) }
        return v
    }
}

/// A bad setting outside a pipeline file: `run.h5: defense.alpha: must be ≥ 0`.
public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public var source: String
    public var key: String
    public var message: String
    public init(source: String, key: String, _ message: String) {
        self.source = source; self.key = key; self.message = message
    }
    public var description: String { "\(source): " + (key.isEmpty ? "" : "\(key): ") + message }
}

/// A `SettingsReader` over a `ParameterValue` object: what a checkpoint's JSON attribute, a stage's
/// parameters or a test decodes from. Strict by default; `strict: false` ignores keys nothing reads
/// (for encodings of older versions that wrote every field whatever the kind).
public final class ParameterFields: SettingsReader {
    public let source: String
    let path: String
    let fields: [String: ParameterValue]
    let strict: Bool
    private var known: Set<String> = []

    public init(_ value: ParameterValue, source: String, path: String = "", strict: Bool = true) throws {
        guard case .object(let fields) = value else {
            throw SettingsError(source: source, key: path, "expected an object, found \(value.canonicalJSON.prefix(40))")
        }
        self.source = source; self.path = path; self.fields = fields; self.strict = strict
    }

    /// Reads JSON text (a checkpoint attribute) as settings.
    public convenience init(json: String, source: String, strict: Bool = true) throws {
        let value: ParameterValue
        do { value = try JSONDecoder().decode(ParameterValue.self, from: Data(json.utf8)) } catch {
            throw SettingsError(source: source, key: "", "not valid JSON: \(json.prefix(60))")
        }
        try self.init(value, source: source, strict: strict)
    }

    func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func has(_ key: String) -> Bool { fields[key] != nil }

    private func value(_ key: String) -> ParameterValue? {
        known.insert(key)
        guard let v = fields[key], v != .null else { return nil }
        return v
    }

    public func error(_ key: String, _ message: String) -> any Error { SettingsError(source: source, key: sub(key), message) }

    public func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw error(key, "expected a string, found \(v)") }
        return s
    }

    public func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        return try Self.int(v) ?? { throw error(key, "expected an integer, found \(v)") }()
    }

    public func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        return try Self.double(v) ?? { throw error(key, "expected a number, found \(v)") }()
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw error(key, "expected true or false, found \(v)") }
        return b
    }

    public func ints(_ key: String) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v, let ints = Optional(a.compactMap(Self.int)), ints.count == a.count else {
            throw error(key, "expected a list of integers, found \(v)")
        }
        return ints
    }

    public func doubles(_ key: String) throws -> [Double]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v, let numbers = Optional(a.compactMap(Self.double)), numbers.count == a.count else {
            throw error(key, "expected a list of numbers, found \(v)")
        }
        return numbers
    }

    public func nested(_ key: String) throws -> (any SettingsReader)? {
        guard let v = value(key) else { return nil }
        return try ParameterFields(v, source: source, path: sub(key), strict: strict)
    }

    public func finish() throws {
        guard strict, let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) else { return }
        throw error(unknown, "unknown key '\(unknown)'" + (known.isEmpty ? "" : " (expected one of: \(known.sorted().joined(separator: ", ")))"))
    }

    static func int(_ v: ParameterValue) -> Int? {
        switch v {
        case .int(let i): Int(i)
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: Int(d)
        default: nil
        }
    }

    static func double(_ v: ParameterValue) -> Double? {
        switch v {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
}

extension ParameterValue: Decodable {
    /// JSON → value (booleans, then integers, then other numbers; `canonicalJSON` is the inverse).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([ParameterValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: ParameterValue].self)) }
    }
}
