import Data
import Foundation
import Store

/// ingest: the raw images (Fashion-MNIST's IDX files, or a folder layout) → one dataset artifact.
/// preprocess: that artifact → the slice the pipeline trains and tests on (first N of each split).
enum DataStages {
    /// 2: layouts read each folder and file once (links back into the tree passed over); CMYK JPEGs
    /// without Adobe's marker read inverted, colour to gray through RGB, PNGs decoded as Pillow does.
    static let ingestVersion = 2
    static let preprocessVersion = 1

    static func ingest(_ spec: DataSpec, _ run: StageRun) throws -> [String: ArtifactID] {
        run.progress.line("ingest: reading \(spec.layout.rawValue) from \(spec.directory)")
        let data: PreparedDataset
        if spec.layout == .fashionMNIST {
            data = try Ingest.fashionMNIST(directory: spec.directory, preprocessing: spec.preprocessing)
        } else {
            let progress = run.progress
            data = try Ingest.folder(spec.layout, root: spec.directory, preprocessing: spec.preprocessing!, split: spec.split) { done, total in
                progress.update("ingest: \(done)/\(total) images")
            }
        }
        run.progress.line("ingest: \(data.train.count) training, \(data.test.count) test images, \(data.train.classNames.count) classes")
        return ["dataset": try DatasetArtifact.put(data, in: run.store, metadata: run.metadata(kind: DatasetArtifact.kind, formatVersion: DatasetArtifact.formatVersion))]
    }

    static func preprocess(_ spec: DataSpec, _ run: StageRun) throws -> [String: ArtifactID] {
        var data = try run.cache.dataset(try run.input("dataset"), in: run.store)
        data.train = data.train.prefix(spec.trainExamples)
        data.test = data.test.prefix(spec.testExamples)
        return ["dataset": try DatasetArtifact.put(data, in: run.store, metadata: run.metadata(kind: DatasetArtifact.kind, formatVersion: DatasetArtifact.formatVersion))]
    }
}
