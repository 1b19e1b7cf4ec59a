import Foundation

/// A synthetic stage for crash and concurrency tests of the store (`atalp store _torture`, and the
/// StoreTests child processes): its output is `megabytes` MiB of float32 written as 1 MiB datasets,
/// optionally pausing between them, so a test can kill the writer mid-file or race two processes.
public enum StoreTorture {
    /// The stage spec for `seed`: same seed, same key.
    public static func spec(seed: Int, megabytes: Int) -> StageSpec {
        StageSpec(stage: "torture", implementationVersion: 1,
                  parameters: ["seed": .int(Int64(seed)), "megabytes": .int(Int64(megabytes))])
    }

    /// Serves or computes the torture stage. `onCompute` runs when this process is the one computing
    /// (before any byte is written); `pause` is slept between 1 MiB datasets.
    public static func run(store: ArtifactStore, seed: Int, megabytes: Int, pause: Double = 0,
                           lockTimeout: Double? = nil, onCompute: () -> Void = {}) throws -> RunResult {
        let spec = spec(seed: seed, megabytes: megabytes)
        return try store.run(spec, timeout: lockTimeout) {
            onCompute()
            let id = try store.put(ArtifactMetadata(kind: "torture", producedBy: spec)) { artifact in
                var values = [Float](repeating: 0, count: 1 << 18)   // 1 MiB
                for chunk in 0..<megabytes {
                    for i in values.indices { values[i] = Float(seed &* 31 &+ chunk &* 7 &+ i) }
                    try artifact.write("chunk\(chunk)", float32: values, shape: [values.count])
                    if pause > 0 { Thread.sleep(forTimeInterval: pause) }
                }
            }
            return ["data": id]
        }
    }
}
