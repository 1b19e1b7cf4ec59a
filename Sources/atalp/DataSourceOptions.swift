import ArgumentParser
import Data
import Foundation
import Robustness
import Store

/// Where `atalp train` and `atalp evaluate` get their images: any source a pipeline takes.
///
/// - `--dataset ID|FILE`: a dataset artifact of the store (`atalp ingest` and `atalp preprocess` print
///   its id; a unique prefix will do), or a dataset HDF5 file (`atalp ingest -o FILE`);
/// - else `--layout` and `--data-dir`: Fashion-MNIST's IDX files (the default), or a folder layout
///   (flowers17, imagenet-subset, dogs-vs-cats, image-folder) read and resampled as `atalp ingest` does.
struct DataSourceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A dataset artifact id of the store (or a unique prefix), or a dataset HDF5 file (atalp ingest -o).",
                               valueName: "ID|FILE"))
    var dataset: String?
    @OptionGroup var store: StoreOptions
    @Option(help: "Layout of --data-dir: \(Layout.allCases.map(\.rawValue).joined(separator: ", ")).")
    var layout: String = Layout.fashionMNIST.rawValue
    @Option(help: "The images' directory (default for fashion-mnist: \(FashionMNIST.defaultDirectory)).")
    var dataDir: String?
    @OptionGroup var preprocessing: PreprocessingOptions
    @Option(help: ArgumentHelp("Fraction of each class held out for testing, where the layout has no split.", valueName: "F"))
    var testFraction: Double = 0.2
    @Option(help: ArgumentHelp("Seed of that train/test split.", valueName: "N"))
    var splitSeed: UInt64 = 0

    func validate() throws {
        guard let layout = Layout(rawValue: layout) else {
            throw ValidationError("unknown --layout '\(self.layout)'; expected one of: \(Layout.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if dataset == nil && layout != .fashionMNIST && dataDir == nil {
            throw ValidationError("--layout \(layout.rawValue) needs --data-dir (the data set's folder)")
        }
    }

    /// The training and test images, and a line that says where they came from.
    func load() throws -> (train: ImageDataset, test: ImageDataset, name: String) {
        if let dataset {
            if FileManager.default.fileExists(atPath: dataset) {
                let data = try DatasetArtifact.read(from: dataset)
                return (data.train, data.test, dataset)
            }
            let store = try store.open(create: false, repairs: false)
            let id = try store.resolve(dataset)
            let data = try DatasetArtifact.read(id, in: store)
            return (data.train, data.test, "dataset \(id.hex.prefix(12))")
        }
        let layout = Layout(rawValue: layout)!
        if layout == .fashionMNIST {
            let directory = dataDir ?? FashionMNIST.defaultDirectory
            if let size = preprocessing.size {
                let data = try Ingest.fashionMNIST(directory: directory, preprocessing: try preprocessing.preprocessing(size: size, channels: 1))
                return (data.train, data.test, "Fashion-MNIST")
            }
            let (train, test) = try FashionMNIST.load(directory: directory)
            return (train, test, "Fashion-MNIST")
        }
        let p = try preprocessing.preprocessing(size: preprocessing.size ?? 224, channels: 3)
        let data = try Ingest.folder(layout, root: dataDir!, preprocessing: p, split: SplitOptions(testFraction: testFraction, seed: splitSeed),
                                     strict: false, threads: ProcessInfo.processInfo.activeProcessorCount, progress: { _, _ in })
        return (data.train, data.test, "\(layout.rawValue) (\(dataDir!))")
    }
}

extension ImageDataset {
    /// Pixels scaled to [0, 1] with integer labels, as training and attacks consume them.
    var labeledImages: LabeledImages {
        LabeledImages(pixels: images, shape: [count, channels, height, width], labels: labels.map(Int.init))
    }
}
