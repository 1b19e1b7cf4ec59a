import Foundation
import Store

/// The pipeline files as garbage-collection roots: `atalp store gc` keeps the outputs of every stage
/// of every pipeline in `directory` that is fresh in the store (and, through the store, everything
/// they were made from). Call `register()` before `gc` runs.
public enum PipelineGCRoots {
    public static func register(directory: String = "pipelines") {
        GCRootSources.register("pipelines") { store in
            var keys: Set<StageKey> = []
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            for file in files {
                guard let definition = try? PipelineDefinition.load("\(directory)/\(file)"),
                      let runner = try? PipelineRunner(definition: definition, store: store, progress: ProgressDisplay(quiet: true)) else { continue }
                for state in runner.status() where state.state == .fresh {
                    if let key = state.key { keys.insert(key) }
                }
            }
            return GCRoots(keys: keys)
        }
    }
}
