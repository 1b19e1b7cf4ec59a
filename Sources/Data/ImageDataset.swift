/// A set of labelled images held as `uint8` pixels, N×C×H×W contiguous (channel-planar, as models
/// consume them; RGB order for colour images). Pixel value `v` reaches a model as `Float(v) / 255`.
///
///     let (train, _) = try FashionMNIST.load()
///     train.count                       // 60000
///     (train.channels, train.height, train.width)   // (1, 28, 28)
///     train.images[train.pixelIndex(image: 0, channel: 0, y: 14, x: 14)]
///
/// `masks`, when present, holds one N×H×W plane per image: 1 marks the key region (the flower, the
/// garment), 0 the rest. `fileNames[i]` names the source of image `i` (a path relative to the data
/// set's root, or `file.gz#index` for images packed in one file).
public struct ImageDataset: Sendable, Equatable {
    public var images: [UInt8]
    public var labels: [Int32]
    public var count: Int
    public var channels: Int
    public var height: Int
    public var width: Int
    public var classNames: [String]
    public var fileNames: [String]
    public var masks: [UInt8]?

    public init(images: [UInt8], labels: [Int32], count: Int, channels: Int, height: Int, width: Int,
                classNames: [String], fileNames: [String], masks: [UInt8]? = nil) {
        self.images = images
        self.labels = labels
        self.count = count
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
        self.fileNames = fileNames
        self.masks = masks
    }

    /// An empty data set of the given image shape.
    public init(channels: Int, height: Int, width: Int, classNames: [String]) {
        self.init(images: [], labels: [], count: 0, channels: channels, height: height, width: width,
                  classNames: classNames, fileNames: [])
    }

    /// Bytes in one image: C·H·W.
    public var imageSize: Int { channels * height * width }

    /// Index into `images` of pixel (n, c, y, x).
    @inlinable
    public func pixelIndex(image n: Int, channel c: Int, y: Int, x: Int) -> Int {
        ((n * channels + c) * height + y) * width + x
    }

    /// The pixels of image `n`, C×H×W.
    public func image(_ n: Int) -> ArraySlice<UInt8> {
        images[n * imageSize ..< (n + 1) * imageSize]
    }

    /// How many images carry each label, indexed by class.
    public var countsPerClass: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for label in labels where label >= 0 && Int(label) < counts.count { counts[Int(label)] += 1 }
        return counts
    }

    /// Checks that every array has the length its shape promises and every label names a class.
    /// Throws `DataError.invalidArgument` naming `path` otherwise.
    public func validate(path: String = "dataset") throws {
        func fail(_ message: String) -> DataError { DataError(.invalidArgument, path: path, message) }
        guard count >= 0, channels > 0, height > 0, width > 0 else {
            throw fail("bad shape \(count)×\(channels)×\(height)×\(width)")
        }
        guard images.count == count * imageSize else {
            throw fail("\(images.count) pixel bytes for \(count)×\(channels)×\(height)×\(width) images")
        }
        guard labels.count == count else { throw fail("\(labels.count) labels for \(count) images") }
        guard fileNames.count == count else { throw fail("\(fileNames.count) file names for \(count) images") }
        if let masks, masks.count != count * height * width {
            throw fail("\(masks.count) mask bytes for \(count)×\(height)×\(width) masks")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classNames.count }) {
            throw fail("image \(bad) has label \(labels[bad]) but there are \(classNames.count) classes")
        }
    }

    /// Appends all images of `other`, which must have the same image shape and class names.
    public mutating func append(contentsOf other: ImageDataset) {
        precondition(other.channels == channels && other.height == height && other.width == width,
                     "append: image shapes differ")
        precondition(other.classNames == classNames, "append: class names differ")
        if masks != nil || other.masks != nil {
            var mine = masks ?? [UInt8](repeating: 0, count: count * height * width)
            mine += other.masks ?? [UInt8](repeating: 0, count: other.count * height * width)
            masks = mine
        }
        images += other.images
        labels += other.labels
        fileNames += other.fileNames
        count += other.count
    }

    /// The images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageDataset {
        let size = imageSize, plane = height * width
        var newImages = [UInt8](repeating: 0, count: indices.count * size)
        var newMasks: [UInt8]? = masks.map { _ in [UInt8](repeating: 0, count: indices.count * plane) }
        images.withUnsafeBufferPointer { src in
            newImages.withUnsafeMutableBufferPointer { dst in
                for (k, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "subset: index \(i) out of range 0..<\(count)")
                    UnsafeMutableRawPointer(dst.baseAddress! + k * size)
                        .copyMemory(from: src.baseAddress! + i * size, byteCount: size)
                }
            }
        }
        if let masks {
            masks.withUnsafeBufferPointer { src in
                newMasks!.withUnsafeMutableBufferPointer { dst in
                    for (k, i) in indices.enumerated() {
                        UnsafeMutableRawPointer(dst.baseAddress! + k * plane)
                            .copyMemory(from: src.baseAddress! + i * plane, byteCount: plane)
                    }
                }
            }
        }
        return ImageDataset(images: newImages, labels: indices.map { labels[$0] }, count: indices.count,
                            channels: channels, height: height, width: width, classNames: classNames,
                            fileNames: indices.map { fileNames[$0] }, masks: newMasks)
    }
}
