import Data
import Foundation
import Store

/// preprocess: the ingested dataset artifact → the slice the pipeline trains and tests on (the first
/// N of each split). Key: train_examples, test_examples.
enum PreprocessStage {
    static let version = 1

    static func node(_ data: DataSpec) -> StageNode {
        StageNode(name: "preprocess", stage: "preprocess", version: version, parameters: data.preprocessParameters,
                  inputs: ["dataset": ("ingest", "dataset")],
                  outputs: ["dataset"]) { try run(data, $0) }
    }

    static func run(_ spec: DataSpec, _ run: StageRun) throws -> [String: ArtifactID] {
        var data = try run.cache.dataset(try run.input("dataset"), in: run.store)
        data.train = data.train.prefix(spec.trainExamples)
        data.test = data.test.prefix(spec.testExamples)
        return ["dataset": try DatasetArtifact.put(data, in: run.store, metadata: run.metadata(kind: DatasetArtifact.kind, formatVersion: DatasetArtifact.formatVersion))]
    }
}
