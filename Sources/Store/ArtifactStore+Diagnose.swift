import Foundation

extension ArtifactStore {
    /// Why `spec` would run, in the vocabulary of `dvc status`, by comparing it with the newest recorded
    /// run of the same stage instance: `info["name"] == instance` when `instance` is given (a pipeline
    /// may run one stage kind several times with different parameters), else of the same stage kind.
    ///
    ///     store.diagnose(spec, instance: "train-atalp")
    ///     // ["changed params: lr (0.1 → 0.05)", "changed deps: data (3fa9c1e0b2d4 → 77aa01c9e2f0)"]
    ///
    /// Returns ["up to date"] for a fresh key, the output problem for a recorded key whose outputs are
    /// gone or corrupt, and ["never run"] when no earlier run of the instance exists.
    public func diagnose(_ spec: StageSpec, instance: String? = nil) -> [String] {
        guard let key = try? spec.key() else { return ["invalid stage spec"] }
        let status = status(key)
        switch status {
        case .fresh: return ["up to date"]
        case .neverRun: break
        default: return [status.reason]
        }
        let previous = (try? runRecords())?.first { record in
            if let instance { return record.info["name"] == instance }
            return record.stage == spec.stage
        }
        guard let previous else { return ["never run"] }
        var reasons: [String] = []
        if previous.stage != spec.stage { reasons.append("changed stage (\(previous.stage) → \(spec.stage))") }
        if previous.stageVersion != spec.implementationVersion {
            reasons.append("new implementation version (\(previous.stageVersion) → \(spec.implementationVersion))")
        }
        let newJSON = spec.parameters.canonicalJSON
        if previous.parametersJSON != newJSON {
            reasons.append("changed params" + Self.differences(old: previous.parametersJSON, new: newJSON))
        }
        var deps: [String] = []
        for role in Set(previous.inputs.keys).union(spec.inputs.keys).sorted() {
            switch (previous.inputs[role], spec.inputs[role]) {
            case let (old?, new?) where old != new: deps.append("\(role) (\(old.short) → \(new.short))")
            case (nil, _?): deps.append("+\(role)")
            case (_?, nil): deps.append("-\(role)")
            default: break
            }
        }
        if !deps.isEmpty { reasons.append("changed deps: " + deps.joined(separator: ", ")) }
        return reasons.isEmpty ? ["never run"] : reasons
    }

    /// ": lr (0.1 → 0.05), +momentum, -nesterov" for two canonical JSON objects; "" when they cannot
    /// be compared key by key.
    static func differences(old: String, new: String) -> String {
        guard let a = try? JSONSerialization.jsonObject(with: Data(old.utf8)) as? [String: Any],
              let b = try? JSONSerialization.jsonObject(with: Data(new.utf8)) as? [String: Any] else { return "" }
        func text(_ value: Any) -> String {
            guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return "?" }
            return String(decoding: data, as: UTF8.self)
        }
        var parts: [String] = []
        for name in Set(a.keys).union(b.keys).sorted() {
            switch (a[name], b[name]) {
            case let (x?, y?) where text(x) != text(y): parts.append("\(name) (\(text(x)) → \(text(y)))")
            case (nil, _?): parts.append("+\(name)")
            case (_?, nil): parts.append("-\(name)")
            default: break
            }
        }
        return parts.isEmpty ? "" : ": " + parts.joined(separator: ", ")
    }
}
