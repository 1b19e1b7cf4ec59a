import Dispatch
import Foundation

/// Train and test images of one data set, with what was left out.
public struct PreparedDataset: Sendable {
    public var train: ImageDataset
    public var test: ImageDataset
    /// Files passed over by the scan or at decode time, with reasons.
    public var skipped: [SkippedFile]
    public var layout: Layout
    public var root: String
    public var preprocessing: Preprocessing?
    public var split: SplitOptions?

    public init(train: ImageDataset, test: ImageDataset, skipped: [SkippedFile], layout: Layout, root: String,
                preprocessing: Preprocessing?, split: SplitOptions?) {
        self.train = train
        self.test = test
        self.skipped = skipped
        self.layout = layout
        self.root = root
        self.preprocessing = preprocessing
        self.split = split
    }

    /// A few lines a person reads after an ingest: images per split and per class, skips with reasons.
    public func summary(maxSkipsListed: Int = 20) -> String {
        var lines: [String] = []
        let shape = "\(train.channels)×\(train.height)×\(train.width)"
        lines.append("\(layout.rawValue) from \(root): \(train.count) train + \(test.count) test images, \(shape) uint8")
        let trainCounts = train.countsPerClass, testCounts = test.countsPerClass
        let width = max(5, train.classNames.map(\.count).max() ?? 5)
        lines.append("  " + "class".padding(toLength: width, withPad: " ", startingAt: 0) + "   train    test")
        for (c, name) in train.classNames.enumerated() {
            lines.append("  " + name.padding(toLength: width, withPad: " ", startingAt: 0)
                         + String(format: " %7d %7d", trainCounts[c], testCounts[c]))
        }
        if train.masks != nil || test.masks != nil { lines.append("  key-region masks: stored") }
        if skipped.isEmpty {
            lines.append("  skipped: none")
        } else {
            lines.append("  skipped \(skipped.count) file\(skipped.count == 1 ? "" : "s"):")
            for s in skipped.prefix(maxSkipsListed) { lines.append("    \(s)") }
            if skipped.count > maxSkipsListed { lines.append("    … and \(skipped.count - maxSkipsListed) more") }
        }
        return lines.joined(separator: "\n")
    }
}

/// Ingesting a data set: scan its layout, decode every image in parallel, preprocess to a fixed
/// size, attach key-region masks.
///
///     let data = try Ingest.folder(.flowers17, root: "/data/17flowers", preprocessing: Preprocessing(size: 224))
///     print(data.summary())
///
/// Skip-versus-error policy: problems with the *tree* (a wrong path, no classes, an empty class)
/// throw; problems with *single files* (corrupt, truncated, not an image) are skipped and listed in
/// `skipped` — real data sets carry a few such files (Kaggle's cats and dogs do) and one must not
/// sink an hour of ingest — unless `strict` is set, when the first one throws.
public enum Ingest {
    /// Called now and then with (files done, files in all).
    public typealias Progress = @Sendable (Int, Int) -> Void

    /// Fashion-MNIST at its native 1×28×28 (no resampling), with foreground masks.
    public static func fashionMNIST(directory: String = FashionMNIST.defaultDirectory,
                                    preprocessing: Preprocessing? = nil) throws -> PreparedDataset {
        var (train, test) = try FashionMNIST.load(directory: directory)
        train.masks = FashionMNIST.foregroundMasks(of: train)
        test.masks = FashionMNIST.foregroundMasks(of: test)
        var data = PreparedDataset(train: train, test: test, skipped: [], layout: .fashionMNIST, root: directory,
                                   preprocessing: nil, split: nil)
        if let preprocessing { data = try Ingest.preprocess(data, with: preprocessing) }
        return data
    }

    /// Scans `root` as `layout` and decodes every image with `preprocessing`.
    public static func folder(_ layout: Layout, root: String, preprocessing: Preprocessing,
                              split: SplitOptions = SplitOptions(), strict: Bool = false,
                              threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                              progress: Progress? = nil) throws -> PreparedDataset {
        if layout == .fashionMNIST { return try fashionMNIST(directory: root, preprocessing: preprocessing) }
        let listing = try LayoutScanner.scan(layout, root: root, split: split)
        return try decode(listing, preprocessing: preprocessing, split: listing.splitFromLayout ? nil : split,
                          strict: strict, threads: threads, progress: progress)
    }

    /// Decodes the files of a listing (in parallel over `threads`) into train and test sets.
    public static func decode(_ listing: SourceListing, preprocessing: Preprocessing, split: SplitOptions? = nil,
                              strict: Bool = false, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                              progress: Progress? = nil) throws -> PreparedDataset {
        try preprocessing.validate()
        if strict, let first = listing.skipped.first { throw DataError(.layout, path: first.path, first.reason) }
        let anyMasks = listing.files.contains { $0.maskPath != nil }
        let total = listing.files.count
        let counter = Counter()
        var results: [Split: (ImageDataset, [SkippedFile])] = [:]
        for part in [Split.train, .test] {
            let files = listing.files.filter { $0.split == part }
            results[part] = decodeSplit(files, classNames: listing.classNames, preprocessing: preprocessing,
                                        withMasks: anyMasks, threads: threads) { _ in
                let done = counter.increment()
                if let progress, done % 64 == 0 || done == total { progress(done, total) }
            }
        }
        let failed = results[.train]!.1 + results[.test]!.1
        if strict, let first = failed.first { throw DataError(.corrupt, path: first.path, first.reason) }
        return PreparedDataset(train: results[.train]!.0, test: results[.test]!.0, skipped: listing.skipped + failed,
                               layout: listing.layout, root: listing.root, preprocessing: preprocessing, split: split)
    }

    /// Decodes `files` in parallel straight into one split's arrays; failed files are then squeezed
    /// out in place, so the peak memory is one copy of the split, not two.
    static func decodeSplit(_ files: [SourceFile], classNames: [String], preprocessing: Preprocessing, withMasks: Bool,
                            threads: Int, tick: @Sendable (Int) -> Void) -> (ImageDataset, [SkippedFile]) {
        let n = files.count
        let imageSize = preprocessing.channels * preprocessing.width * preprocessing.height
        let plane = preprocessing.width * preprocessing.height
        var images = [UInt8](repeating: 0, count: n * imageSize)
        var masks = [UInt8](repeating: 0, count: withMasks ? n * plane : 0)
        let failures = FailureList(count: n)
        images.withUnsafeMutableBufferPointer { imageBuffer in
            masks.withUnsafeMutableBufferPointer { maskBuffer in
                let out = SendablePointers(images: imageBuffer.baseAddress, masks: maskBuffer.baseAddress)
                let workers = max(1, min(threads, n))
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    var i = worker
                    while i < n {
                        let file = files[i]
                        do {
                            let bytes = try FileReading.readFile(file.path)
                            let pixels = try preprocessing.apply(encoded: bytes, path: file.path)
                            pixels.withUnsafeBufferPointer {
                                (out.images! + i * imageSize).update(from: $0.baseAddress!, count: imageSize)
                            }
                            if let maskPath = file.maskPath {
                                let mask = try preprocessing.applyMask(PNG.decode(contentsOf: maskPath), isKey: Trimap.isKey(_:channels:))
                                mask.withUnsafeBufferPointer {
                                    (out.masks! + i * plane).update(from: $0.baseAddress!, count: plane)
                                }
                            }
                        } catch let error as DataError {
                            failures.set(i, SkippedFile(path: error.path, reason: error.message))
                        } catch {
                            failures.set(i, SkippedFile(path: file.path, reason: "\(error)"))
                        }
                        tick(i)
                        i += workers
                    }
                }
            }
        }
        var kept: [Int] = []
        for i in 0..<n where failures.get(i) == nil { kept.append(i) }
        if kept.count < n {
            // Compact: image kept[j] moves down to slot j (j ≤ kept[j], so nothing is overwritten unread).
            images.withUnsafeMutableBufferPointer { b in
                for (j, i) in kept.enumerated() where j != i {
                    UnsafeMutableRawPointer(b.baseAddress! + j * imageSize).copyMemory(from: b.baseAddress! + i * imageSize, byteCount: imageSize)
                }
            }
            images.removeLast((n - kept.count) * imageSize)
            if withMasks {
                masks.withUnsafeMutableBufferPointer { b in
                    for (j, i) in kept.enumerated() where j != i {
                        UnsafeMutableRawPointer(b.baseAddress! + j * plane).copyMemory(from: b.baseAddress! + i * plane, byteCount: plane)
                    }
                }
                masks.removeLast((n - kept.count) * plane)
            }
        }
        let dataset = ImageDataset(images: images, labels: kept.map { files[$0].label }, count: kept.count,
                                   channels: preprocessing.channels, height: preprocessing.height, width: preprocessing.width,
                                   classNames: classNames, fileNames: kept.map { files[$0].relativePath },
                                   masks: withMasks ? masks : nil)
        return (dataset, failures.all)
    }

    /// Resamples every image of an already-ingested data set (Fashion-MNIST 28×28 → 32×32, say),
    /// in parallel over `threads`. Masks are resampled with the same geometry.
    public static func preprocess(_ data: PreparedDataset, with preprocessing: Preprocessing,
                                  threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                                  progress: Progress? = nil) throws -> PreparedDataset {
        try preprocessing.validate()
        let total = data.train.count + data.test.count
        let counter = Counter()
        func convert(_ d: ImageDataset) -> ImageDataset {
            let size = preprocessing.channels * preprocessing.width * preprocessing.height
            let plane = preprocessing.width * preprocessing.height
            let inPlane = d.height * d.width
            var images = [UInt8](repeating: 0, count: d.count * size)
            var masks = [UInt8](repeating: 0, count: d.masks == nil ? 0 : d.count * plane)
            images.withUnsafeMutableBufferPointer { imageBuffer in
                masks.withUnsafeMutableBufferPointer { maskBuffer in
                    let out = SendablePointers(images: imageBuffer.baseAddress, masks: maskBuffer.baseAddress)
                    let workers = max(1, min(threads, d.count))
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        var n = worker
                        while n < d.count {
                            let raw = RawImage(planar: Array(d.image(n)), channels: d.channels, height: d.height, width: d.width)
                            preprocessing.apply(to: raw).withUnsafeBufferPointer {
                                (out.images! + n * size).update(from: $0.baseAddress!, count: size)
                            }
                            if let m = d.masks {
                                let mask = RawImage(pixels: Array(m[n * inPlane ..< (n + 1) * inPlane]),
                                                    width: d.width, height: d.height, channels: 1)
                                preprocessing.applyMask(mask) { pixel, _ in pixel.pointee != 0 }.withUnsafeBufferPointer {
                                    (out.masks! + n * plane).update(from: $0.baseAddress!, count: plane)
                                }
                            }
                            let done = counter.increment()
                            if let progress, done % 1024 == 0 || done == total { progress(done, total) }
                            n += workers
                        }
                    }
                }
            }
            return ImageDataset(images: images, labels: d.labels, count: d.count, channels: preprocessing.channels,
                                height: preprocessing.height, width: preprocessing.width, classNames: d.classNames,
                                fileNames: d.fileNames, masks: d.masks == nil ? nil : masks)
        }
        var out = data
        out.train = convert(data.train)
        out.test = convert(data.test)
        out.preprocessing = preprocessing
        return out
    }
}

/// The key region of a segmentation trimap. Oxford 17 Flowers' trimaps are RGB PNGs in which the
/// flower is coloured (128, 0, 0); any strongly red pixel counts (R ≥ 96, G and B < 64). A gray
/// (one-channel) mask marks the key region with any non-zero value.
public enum Trimap {
    /// Whether the pixel at `pixel` (`channels` samples) is in the key region.
    @Sendable public static func isKey(_ pixel: UnsafePointer<UInt8>, channels: Int) -> Bool {
        channels >= 3 ? pixel[0] >= 96 && pixel[1] < 64 && pixel[2] < 64 : pixel[0] != 0
    }
}

extension RawImage {
    /// An interleaved image from C×H×W planar bytes.
    public init(planar: [UInt8], channels: Int, height: Int, width: Int) {
        if channels == 1 {
            self.init(pixels: planar, width: width, height: height, channels: 1)
            return
        }
        var pixels = [UInt8](repeating: 0, count: planar.count)
        let plane = height * width
        for i in 0..<plane { for c in 0..<channels { pixels[i * channels + c] = planar[c * plane + i] } }
        self.init(pixels: pixels, width: width, height: height, channels: channels)
    }
}

/// Raw output pointers shared by the decode workers; each worker writes only its own images.
private struct SendablePointers: @unchecked Sendable {
    var images: UnsafeMutablePointer<UInt8>?
    var masks: UnsafeMutablePointer<UInt8>?
}

private final class FailureList: @unchecked Sendable {
    private var items: [SkippedFile?]
    private let lock = NSLock()
    init(count: Int) { items = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ s: SkippedFile) { lock.lock(); items[i] = s; lock.unlock() }
    func get(_ i: Int) -> SkippedFile? { lock.lock(); defer { lock.unlock() }; return items[i] }
    var all: [SkippedFile] { lock.lock(); defer { lock.unlock() }; return items.compactMap { $0 } }
}

private final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
}
