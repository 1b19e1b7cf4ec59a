import Foundation
import Store

extension ModelCheckpoint {
    /// The defense of a format-1 checkpoint, each way atalp wrote one:
    ///
    /// - the pipeline's train stage: `defense` = the earlier `DefenseConfiguration`'s JSON (camelCase keys,
    ///   every field whatever the kind);
    /// - `atalp train --output`: `defense` = the kind's name and `defense_configuration` = that JSON;
    /// - `atalp train` before the baselines existed: `defense` = the kind's name only (none, pat, alp,
    ///   at, atalp: each a plain ResNet, so the name alone rebuilds it); no `defense` at all: undefended.
    ///
    /// The JSON is renamed to today's keys (camelCase → snake_case) and read by the one decoder,
    /// ignoring the fields a kind does not read (they were written for every kind). A randomised,
    /// ensemble or denoising kind named without its configuration is an error: rebuilding it from
    /// defaults could evaluate a different model than was trained.
    static func legacyDefense(_ attributes: [String: HDF5Attribute], path: String) throws -> Defense {
        let named = attributes["defense"]?.stringValue
        if let json = attributes["defense_configuration"]?.stringValue ?? named.flatMap({ $0.hasPrefix("{") ? $0 : nil }) {
            let source = "\(path): attribute \(attributes["defense_configuration"] != nil ? "defense_configuration" : "defense")"
            guard let value = try? JSONDecoder().decode(ParameterValue.self, from: Data(json.utf8)) else {
                throw SettingsError(source: source, key: "", "not valid JSON")
            }
            return try Defense(from: try ParameterFields(snakeCased(value), source: source, strict: false))
        }
        guard let named else { return .none }
        guard let kind = Defense.Kind(rawValue: named) else {
            throw SettingsError(source: path, key: "defense", "unknown defense '\(named)'")
        }
        switch kind {
        case .none, .pat, .alp, .at, .atalp, .igr:
            return .defaults(kind)
        case .rat, .randomization, .fd, .adp, .trades, .mart:
            throw SettingsError(source: path, key: "defense", "names defense '\(named)' but carries no configuration of it; "
                                + "refusing to rebuild it from defaults (its noise, ensemble or denoising blocks may differ)")
        }
    }

    /// `{"cleanLossWeight": 0, "attack": {"stepSize": …}}` → `{"clean_loss_weight": 0, "attack": {"step_size": …}}`.
    static func snakeCased(_ value: ParameterValue) -> ParameterValue {
        switch value {
        case .object(let fields):
            return .object(Dictionary(uniqueKeysWithValues: fields.map { key, v in
                (key.reduce(into: "") { out, c in out += c.isUppercase ? "_" + c.lowercased() : String(c) }, snakeCased(v))
            }))
        case .array(let values): return .array(values.map(snakeCased))
        default: return value
        }
    }
}
