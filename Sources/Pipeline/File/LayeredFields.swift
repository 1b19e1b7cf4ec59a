import Store

/// A model's mapping over the pipeline's top-level defaults (`defense:` under a model over the
/// top-level `defense:`): each key is the model's when it sets it, else the default. Both are read,
/// so the top-level mapping learns which of its keys some model used; its `finish()` (after every
/// model) rejects the rest. Errors name the model's mapping, or the default's line when only it has the key.
final class LayeredFields: SettingsReader {
    let own: YAMLFields?
    let defaults: YAMLFields?

    /// nil when neither layer has a mapping.
    init?(_ own: YAMLFields?, over defaults: YAMLFields?) {
        guard own != nil || defaults != nil else { return nil }
        self.own = own
        self.defaults = defaults
    }

    private func pick<T>(_ key: String, _ read: (YAMLFields, String) throws -> T?) throws -> T? {
        let fallback = try defaults.flatMap { try read($0, key) }
        return try own.flatMap { try read($0, key) } ?? fallback
    }

    func has(_ key: String) -> Bool { own?.has(key) == true || defaults?.has(key) == true }
    func string(_ key: String) throws -> String? { try pick(key) { try $0.string($1) } }
    func int(_ key: String) throws -> Int? { try pick(key) { try $0.int($1) } }
    func double(_ key: String) throws -> Double? { try pick(key) { try $0.double($1) } }
    func bool(_ key: String) throws -> Bool? { try pick(key) { try $0.bool($1) } }
    func ints(_ key: String) throws -> [Int]? { try pick(key) { try $0.ints($1) } }
    func doubles(_ key: String) throws -> [Double]? { try pick(key) { try $0.doubles($1) } }

    func nested(_ key: String) throws -> (any SettingsReader)? {
        LayeredFields(try own?.fields(key), over: try defaults?.fields(key))
    }

    func error(_ key: String, _ message: String) -> any Error {
        if own?.has(key) == false, let defaults, defaults.has(key) { return defaults.error(key, message) }
        return (own ?? defaults!).error(key, message)
    }

    /// Checks the model's own keys; the defaults are checked once, after every model has read them.
    func finish() throws { try own?.finish() }
}
