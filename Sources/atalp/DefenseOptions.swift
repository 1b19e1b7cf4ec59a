import ArgumentParser
import Robustness
import Store

extension Defense.Kind: ExpressibleByArgument {}
extension TrainingAttackMethod.Kind: ExpressibleByArgument {}

/// A defense on the command line: its kind and, as a pipeline file writes them, its settings
/// (`--set noise_scale=0.1`), decoded by the pipeline's codec (`Defense(from:)`), so that defaults,
/// checks and messages are the pipeline file's.
struct DefenseOptions: ParsableArguments {
    @Option(help: "Defense: \(Defense.Kind.allCases.map(\.rawValue).joined(separator: ", ")) (default: none).")
    var defense: Defense.Kind?
    @Option(name: .customLong("set"), help: ArgumentHelp("A setting of the defense as a pipeline file's key=value, e.g. noise_scale=0.1 or denoising_groups=1,2 (repeatable).",
                                                         valueName: "KEY=VALUE"))
    var settings: [String] = []

    /// The defense; `given` (options of the command's own, such as the training attack) come first.
    func decode(_ given: [String: ParameterValue] = [:], command: String) throws -> Defense {
        let kind = defense ?? .none
        var p = given
        p["kind"] = .string(kind.rawValue)
        for setting in settings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--set \(setting): expected key=value") }
            p[parts[0]] = Self.value(parts[1])
        }
        do { return try Defense(from: try ParameterFields(.object(p), source: "\(command) --defense \(kind.rawValue)")) } catch let e as SettingsError {
            throw ValidationError(e.description)
        }
    }

    /// `0.1` → 0.1, `3` → 3, `true` → true, `1,2` → [1, 2], anything else a string.
    static func value(_ text: String) -> ParameterValue {
        if text.contains(",") { return .array(text.split(separator: ",").map { value(String($0)) }) }
        if let i = Int64(text) { return .int(i) }
        if let d = Double(text) { return .double(d) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }
}
