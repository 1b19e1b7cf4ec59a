import Cluster
import Data
import Foundation
import NN
import Robustness
import Store
import Tensors

/// What a stage's computation gets from the runner: the store, its spec and inputs, a crash-surviving
/// work directory, how often to checkpoint, and somewhere to show progress. (Stages know nothing of
/// the runner: it builds a `StageRun` for each node it schedules.)
public struct StageRun {
    public let node: String
    public let spec: StageSpec
    public let key: StageKey
    public let store: ArtifactStore
    public let checkpointing: Checkpointing
    public let progress: ProgressDisplay
    let cache: ArtifactCache
    /// The ranks computing this stage together and how they train (one process unless under MPI):
    /// training splits each batch over them, attacks and evaluation split the batches; rank 0 alone
    /// writes to the store (`isLeader`).
    public let parallelism: DataParallelism

    public var communicator: Communicator { parallelism.communicator }
    /// Whether this rank writes the stage's outputs (always, on one process).
    public var isLeader: Bool { parallelism.communicator.isLeader }

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

/// How often a long stage (training) saves a resumable checkpoint, besides every epoch end.
public struct Checkpointing: Sendable {
    /// At least this often.
    public var seconds: Double
    /// …and every this many steps, when set.
    public var everySteps: Int?
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

extension ModelCheckpoint {
    /// Loads a checkpoint artifact of the store (any format atalp has written; see `ModelCheckpoint`).
    static func load(_ id: ArtifactID, in store: ArtifactStore) throws -> ModelCheckpoint {
        try load(store.path(of: id))
    }
}

func canonicalJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? encoder.encode(value)) ?? Foundation.Data(), as: UTF8.self)
}
