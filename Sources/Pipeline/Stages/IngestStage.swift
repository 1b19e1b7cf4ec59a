import Data
import Foundation
import Store

/// ingest: the raw images (Fashion-MNIST's IDX files, or a folder layout) → one dataset artifact.
/// Key: source, directory, preprocessing, split (`DataSpec.ingestParameters`).
enum IngestStage {
    /// 2: layouts read each folder and file once (links back into the tree passed over); CMYK JPEGs
    /// without Adobe's marker read inverted, colour to gray through RGB, PNGs decoded as Pillow does.
    static let version = 2

    static func node(_ data: DataSpec) -> StageNode {
        StageNode(name: "ingest", stage: "ingest", version: version, parameters: data.ingestParameters, inputs: [:],
                  outputs: ["dataset"]) { try run(data, $0) }
    }

    static func run(_ spec: DataSpec, _ run: StageRun) throws -> [String: ArtifactID] {
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
}
