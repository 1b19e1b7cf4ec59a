import Foundation

/// Fashion-MNIST (Xiao et al. 2017): 70000 grayscale 28×28 images of ten kinds of garment, 60000 for
/// training and 10000 for testing, in IDX files. Debian's `dataset-fashion-mnist` package installs
/// them, gzipped, under `/usr/share/datasets/fashion-mnist`; plain (gunzipped) files work too.
///
///     let (train, test) = try FashionMNIST.load()
///     train.count, test.count       // 60000, 10000
///     train.classNames[Int(train.labels[0])]   // "ankle boot"
public enum FashionMNIST {
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The ten classes, in label order.
    public static let classNames = [
        "t-shirt/top", "trouser", "pullover", "dress", "coat",
        "sandal", "shirt", "sneaker", "bag", "ankle boot",
    ]

    /// The pixel threshold of the foreground mask: a pixel belongs to the garment when its value is
    /// at least this. Fashion-MNIST's conversion leaves the background at exactly 0 (half of all
    /// training pixels); the garment, anti-aliased rim included, is every non-zero pixel.
    public static let foregroundThreshold: UInt8 = 1

    /// Loads both splits from `directory`, which holds `train-images-idx3-ubyte`,
    /// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each gzipped
    /// (`.gz`) or not. Images are 1×28×28; `masks` is nil (see `foregroundMasks`).
    public static func load(directory: String = defaultDirectory) throws -> (train: ImageDataset, test: ImageDataset) {
        let train = try loadSplit(directory: directory, prefix: "train")
        let test = try loadSplit(directory: directory, prefix: "t10k")
        return (train, test)
    }

    /// Loads one split: `prefix` is `train` or `t10k`.
    public static func loadSplit(directory: String, prefix: String) throws -> ImageDataset {
        let imagesPath = try locate(directory: directory, name: "\(prefix)-images-idx3-ubyte")
        let labelsPath = try locate(directory: directory, name: "\(prefix)-labels-idx1-ubyte")
        let images = try IDXFile(contentsOf: imagesPath)
        let labels = try IDXFile(contentsOf: labelsPath)
        guard images.shape.count == 3 else {
            throw DataError(.corrupt, path: imagesPath, "expected a 3-dimensional IDX file (N×H×W), found shape \(images.shape)")
        }
        guard labels.shape.count == 1 else {
            throw DataError(.corrupt, path: labelsPath, "expected a 1-dimensional IDX file (N), found shape \(labels.shape)")
        }
        guard images.shape[0] == labels.shape[0] else {
            throw DataError(.mismatch, path: labelsPath,
                            "\(labels.shape[0]) labels but \(imagesPath) holds \(images.shape[0]) images")
        }
        if let bad = labels.bytes.firstIndex(where: { Int($0) >= classNames.count }) {
            throw DataError(.corrupt, path: labelsPath, "label \(labels.bytes[bad]) at index \(bad) is not one of the 10 classes")
        }
        let n = images.shape[0]
        let base = imagesPath.split(separator: "/").last.map(String.init) ?? imagesPath
        return ImageDataset(images: images.bytes, labels: labels.bytes.map { Int32($0) }, count: n, channels: 1,
                            height: images.shape[1], width: images.shape[2], classNames: classNames,
                            fileNames: (0..<n).map { "\(base)#\($0)" })
    }

    /// The foreground ("key region") masks of Fashion-MNIST images: 1 where the pixel value is at
    /// least `threshold` (the garment), 0 elsewhere (the black background). N×H×W.
    public static func foregroundMasks(of dataset: ImageDataset, threshold: UInt8 = foregroundThreshold) -> [UInt8] {
        precondition(dataset.channels == 1, "foregroundMasks: expected grayscale images")
        var masks = [UInt8](repeating: 0, count: dataset.images.count)
        dataset.images.withUnsafeBufferPointer { src in
            masks.withUnsafeMutableBufferPointer { dst in
                for i in 0..<src.count { dst[i] = src[i] >= threshold ? 1 : 0 }
            }
        }
        return masks
    }

    private static func locate(directory: String, name: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError(.notFound, path: directory, "no such folder (install Debian's dataset-fashion-mnist, or pass the folder holding the IDX files)")
        }
        for candidate in ["\(directory)/\(name).gz", "\(directory)/\(name)"]
        where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw DataError(.notFound, path: "\(directory)/\(name).gz", "no such file (nor \(name) without .gz)")
    }
}
