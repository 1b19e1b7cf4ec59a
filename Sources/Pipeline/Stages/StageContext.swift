import Data
import Foundation
import NN
import Robustness
import Store
import Tensors

/// What a stage's computation gets from the runner: the store, its spec and inputs, a crash-surviving
/// work directory, the run options and somewhere to show progress.
public struct StageRun {
    public let node: String
    public let spec: StageSpec
    public let key: StageKey
    public let store: ArtifactStore
    public let options: RunOptions
    public let progress: ProgressDisplay
    let cache: ArtifactCache

    public var inputs: [String: ArtifactID] { spec.inputs }

    func input(_ role: String) throws -> ArtifactID {
        guard let id = spec.inputs[role] else { throw PipelineError(file: node, "stage has no input '\(role)'") }
        return id
    }

    public func workDirectory() throws -> String { try store.workDirectory(key) }

    /// Metadata for an output of this stage.
    func metadata(kind: String, formatVersion: Int = 1) -> ArtifactMetadata {
        ArtifactMetadata(kind: kind, formatVersion: formatVersion, producedBy: spec)
    }
}

/// Decoded artifacts kept for the length of one pipeline run (a data set is read once, not once
/// per stage that uses it).
final class ArtifactCache: @unchecked Sendable {
    private let lock = NSLock()
    private var datasets: [ArtifactID: PreparedDataset] = [:]

    func dataset(_ id: ArtifactID, in store: ArtifactStore) throws -> PreparedDataset {
        lock.lock(); defer { lock.unlock() }
        if let d = datasets[id] { return d }
        let d = try DatasetArtifact.read(id, in: store)
        datasets[id] = d
        return d
    }
}

extension ImageDataset {
    /// Images scaled to [0, 1] with integer labels, what models and attacks consume.
    var labeled: LabeledImages {
        LabeledImages(pixels: images, shape: [count, channels, height, width], labels: labels.map(Int.init))
    }

    /// The first `n` images (all when nil or larger).
    func prefix(_ n: Int?) -> ImageDataset {
        guard let n, n < count else { return self }
        return subset(Array(0..<n))
    }
}

/// Models of the pipeline: whatever the defense needs (`DefenseConfiguration.makeModel`: a ResNet,
/// with denoising blocks for FD, an ensemble for ADP, randomised wrappers for RAT and Randomization).
enum PipelineModels {
    static func make(_ configuration: ResNetConfiguration, defense: DefenseConfiguration, seed: UInt64) -> any Classifier {
        defense.makeModel(architecture: configuration, seed: seed)
    }

    /// Loads a checkpoint artifact; its `architecture` and `defense` attributes say what to build.
    static func load(_ id: ArtifactID, in store: ArtifactStore) throws -> (model: any Classifier, defense: DefenseConfiguration) {
        let (architecture, defense) = try store.read(id) { r in
            (try r.attribute("architecture")?.stringValue, try r.attribute("defense")?.stringValue)
        }
        let decoder = JSONDecoder()
        guard let architecture, let configuration = try? decoder.decode(ResNetConfiguration.self, from: Foundation.Data(architecture.utf8)) else {
            throw PipelineError(file: store.path(of: id), "checkpoint artifact without a readable 'architecture' attribute")
        }
        let defenseConfiguration = try defense.map { try decoder.decode(DefenseConfiguration.self, from: Foundation.Data($0.utf8)) }
            ?? DefenseConfiguration(kind: .none)
        let model = make(configuration, defense: defenseConfiguration, seed: 0)
        try Checkpoint.load(into: model, from: store.path(of: id))
        return (model, defenseConfiguration)
    }

    /// Writes a model's tensors (PyTorch names) and optionally its optimiser's state into an artifact.
    static func write(_ model: any Module, optimizer: (any Optimizer)?, into w: ArtifactWriter) throws {
        for p in model.parameters { try p.value.withUnsafeBufferPointer { try w.write(p.name, float32: $0, shape: p.value.shape) } }
        for b in model.buffers {
            if b.name.hasSuffix("num_batches_tracked") {
                try w.write(b.name, int64: [Int64(b.value.scalar)], shape: [])
            } else {
                try b.value.withUnsafeBufferPointer { try w.write(b.name, float32: $0, shape: b.value.shape) }
            }
        }
        if let optimizer {
            for (name, t) in optimizer.state.sorted(by: { $0.key < $1.key }) {
                try t.withUnsafeBufferPointer { try w.write("optimizer/" + name, float32: $0, shape: t.shape) }
            }
        }
    }
}

func canonicalJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? encoder.encode(value)) ?? Foundation.Data(), as: UTF8.self)
}
