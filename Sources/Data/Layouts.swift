import Randomness
import Foundation

/// The on-disk layouts atalp reads. `scan` turns a folder into a `SourceListing`: every image file
/// with its label and split, every file it had to pass over with the reason.
///
/// | layout | what the folder holds |
/// |---|---|
/// | `fashion-mnist` | the four IDX files (gzipped or not), see `FashionMNIST` |
/// | `flowers17` | `jpg/image_0001.jpg` … `image_1360.jpg` (80 a class, in order); optional `trimaps/image_NNNN.png` |
/// | `imagenet-subset` | one folder per synset (`n01440764/…`); optionally under `train/` and `val/` |
/// | `dogs-vs-cats` | flat `cat.N.jpg`/`dog.N.jpg` (Kaggle's `train/`), or `training_set/{cats,dogs}` + `test_set/{cats,dogs}` |
/// | `image-folder` | one folder per class; optionally under `train/` and `test/` (or `val/`) |
///
/// Where a layout has no split of its own, `SplitOptions` makes a seeded, stratified one.
public enum Layout: String, Sendable, CaseIterable, Codable {
    case fashionMNIST = "fashion-mnist"
    case flowers17
    case imagenetSubset = "imagenet-subset"
    case dogsVsCats = "dogs-vs-cats"
    case imageFolder = "image-folder"
}

public enum Split: String, Sendable, Codable { case train, test }

/// One image file found by a layout scan.
public struct SourceFile: Sendable, Equatable {
    /// Absolute (or as given) path of the image.
    public var path: String
    /// Path relative to the layout's root: what the dataset records as the file name.
    public var relativePath: String
    public var label: Int32
    public var split: Split
    /// A key-region mask file (a 17 Flowers trimap), if there is one.
    public var maskPath: String?

    public init(path: String, relativePath: String, label: Int32, split: Split, maskPath: String? = nil) {
        self.path = path
        self.relativePath = relativePath
        self.label = label
        self.split = split
        self.maskPath = maskPath
    }
}

/// A file a scan or a decode passed over, and why.
public struct SkippedFile: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// How to split a layout that has no split of its own: per class, the files sorted by name are
/// shuffled by a SplitMix64 generator seeded with `seed` (and the class index), and the first
/// `round(n × testFraction)` become the test set. Same files, same seed → the same split.
public struct SplitOptions: Sendable, Equatable, Codable {
    public var testFraction: Double
    public var seed: UInt64
    public init(testFraction: Double = 0.2, seed: UInt64 = 0) {
        self.testFraction = testFraction
        self.seed = seed
    }
}

/// The result of scanning a layout.
public struct SourceListing: Sendable {
    public var layout: Layout
    public var root: String
    public var classNames: [String]
    public var files: [SourceFile]
    public var skipped: [SkippedFile]
    /// Whether the split came from the layout itself (true) or from `SplitOptions` (false).
    public var splitFromLayout: Bool

    public init(layout: Layout, root: String, classNames: [String], files: [SourceFile], skipped: [SkippedFile] = [],
                splitFromLayout: Bool) {
        self.layout = layout
        self.root = root
        self.classNames = classNames
        self.files = files
        self.skipped = skipped
        self.splitFromLayout = splitFromLayout
    }

    /// Files per split and class: `counts[.train]![c]`.
    public func counts(_ split: Split) -> [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for file in files where file.split == split { counts[Int(file.label)] += 1 }
        return counts
    }
}

/// Scanning folders into listings. Policy (documented in docs/data.md): a wrong root path, a root
/// that does not look like the layout, an empty class folder, or no images at all are **errors**;
/// single files that cannot be used (wrong extension, unexpected names) are **recorded skips**.
/// Files that are named like images but do not decode are skipped later, at decode time.
public enum LayoutScanner {
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// The 17 classes of Oxford 17 Flowers, in file order (images 1–80 are daffodils, …).
    public static let flowers17ClassNames = [
        "daffodil", "snowdrop", "lily valley", "bluebell", "crocus", "iris", "tigerlily", "tulip", "fritillary",
        "sunflower", "daisy", "colts' foot", "dandelion", "cowslip", "buttercup", "windflower", "pansy",
    ]

    /// Human names of the ImageNet synsets of the paper's four-class subset.
    public static let synsetNames = [
        "n01440764": "tench", "n01443537": "goldfish", "n01491361": "great white shark",
    ]

    public static func scan(_ layout: Layout, root: String, split: SplitOptions = SplitOptions()) throws -> SourceListing {
        try requireFolder(root)
        switch layout {
        case .fashionMNIST:
            throw DataError(.invalidArgument, path: root, "fashion-mnist is read with FashionMNIST.load, not scanned")
        case .flowers17: return try scanFlowers17(root: root, split: split)
        case .imagenetSubset, .imageFolder: return try scanImageFolder(layout, root: root, split: split)
        case .dogsVsCats: return try scanDogsVsCats(root: root, split: split)
        }
    }

    // MARK: Layouts

    static func scanFlowers17(root: String, split: SplitOptions) throws -> SourceListing {
        let jpgFolder = isFolder(root + "/jpg") ? root + "/jpg" : root
        let trimapFolder = [root + "/trimaps", root + "/trimaps/trimaps"].first(where: isFolder)
        var files: [SourceFile] = [], skipped: [SkippedFile] = []
        var walk = try TreeWalk(root: root)
        _ = walk.enter(jpgFolder)
        let resolvedFolder = TreeWalk.resolve(jpgFolder)
        for name in try listFolder(jpgFolder) where !name.hasPrefix(".") {
            let path = jpgFolder + "/" + name
            guard walk.classify(path, in: resolvedFolder) == .file else { continue }
            guard let number = flowersNumber(name) else {
                if !name.hasSuffix(".txt") {
                    skipped.append(SkippedFile(path: path, reason: "not named image_NNNN.jpg"))
                }
                continue
            }
            guard (1...1360).contains(number) else {
                skipped.append(SkippedFile(path: path, reason: "image number \(number) is outside 1…1360"))
                continue
            }
            guard walk.take(path) else { continue }
            let maskPath = trimapFolder.map { $0 + "/" + String(format: "image_%04d.png", number) }
                .flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
            files.append(SourceFile(path: path, relativePath: relative(path, to: root), label: Int32((number - 1) / 80),
                                    split: .train, maskPath: maskPath))
        }
        guard !files.isEmpty else {
            throw DataError(.layout, path: jpgFolder, "no image_NNNN.jpg files: not an Oxford 17 Flowers folder")
        }
        var listing = SourceListing(layout: .flowers17, root: root, classNames: flowers17ClassNames, files: files,
                                    skipped: skipped + walk.skipped, splitFromLayout: false)
        assignSplits(&listing, options: split)
        return listing
    }

    static func scanImageFolder(_ layout: Layout, root: String, split: SplitOptions) throws -> SourceListing {
        let trainRoot = root + "/train"
        let testRoot = [root + "/test", root + "/val"].first(where: isFolder)
        var walk = try TreeWalk(root: root)
        _ = walk.enter(root)
        if isFolder(trainRoot), let testRoot, try looksLikeClassFolders(trainRoot) {
            let train = try classFolders(trainRoot, walk: &walk)
            let test = try classFolders(testRoot, walk: &walk)
            guard train == test else {
                throw DataError(.layout, path: testRoot, "class folders \(test) differ from \(trainRoot)'s \(train)")
            }
            var listing = SourceListing(layout: layout, root: root, classNames: displayNames(train, layout: layout),
                                        files: [], skipped: [], splitFromLayout: true)
            try collect(&listing, walk: &walk, base: trainRoot, classes: train, split: .train)
            try collect(&listing, walk: &walk, base: testRoot, classes: test, split: .test)
            listing.skipped += walk.skipped
            return listing
        }
        let classes = try classFolders(root, walk: &walk)
        var listing = SourceListing(layout: layout, root: root, classNames: displayNames(classes, layout: layout),
                                    files: [], skipped: [], splitFromLayout: false)
        try collect(&listing, walk: &walk, base: root, classes: classes, split: .train)
        listing.skipped += walk.skipped
        assignSplits(&listing, options: split)
        return listing
    }

    static func scanDogsVsCats(root: String, split: SplitOptions) throws -> SourceListing {
        let classNames = ["cat", "dog"]
        var walk = try TreeWalk(root: root)
        _ = walk.enter(root)
        // Kaggle "chetankv/dogs-cats-images": dataset/training_set/{cats,dogs}, dataset/test_set/{cats,dogs}.
        for base in [root, root + "/dataset"] where isFolder(base + "/training_set") && isFolder(base + "/test_set") {
            var listing = SourceListing(layout: .dogsVsCats, root: root, classNames: classNames, files: [], skipped: [],
                                        splitFromLayout: true)
            for (folder, split) in [(base + "/training_set", Split.train), (base + "/test_set", Split.test)] {
                // Some archives nest the folder once more (training_set/training_set/cats).
                let inner = isFolder(folder + "/cats") ? folder : folder + "/" + (folder as NSString).lastPathComponent
                for required in ["cats", "dogs"] where !isFolder(inner + "/" + required) {
                    throw DataError(.layout, path: inner, "no \(required)/ folder (expected cats/ and dogs/)")
                }
                try collect(&listing, walk: &walk, base: inner, classes: ["cats", "dogs"], split: split)
            }
            listing.skipped += walk.skipped
            return listing
        }
        // The competition's flat layout: train/cat.0.jpg … dog.12499.jpg.
        let flat = isFolder(root + "/train") ? root + "/train" : root
        var listing = SourceListing(layout: .dogsVsCats, root: root, classNames: classNames, files: [], skipped: [],
                                    splitFromLayout: false)
        _ = walk.enter(flat)
        let resolvedFlat = TreeWalk.resolve(flat)
        for name in try listFolder(flat) where !name.hasPrefix(".") {
            let path = flat + "/" + name
            guard walk.classify(path, in: resolvedFlat) == .file else { continue }
            let lower = name.lowercased()
            let label: Int32? = lower.hasPrefix("cat.") ? 0 : lower.hasPrefix("dog.") ? 1 : nil
            guard let label, imageExtensions.contains((lower as NSString).pathExtension) else {
                listing.skipped.append(SkippedFile(path: path, reason: "not named cat.N.jpg or dog.N.jpg"))
                continue
            }
            guard walk.take(path) else { continue }
            listing.files.append(SourceFile(path: path, relativePath: relative(path, to: root), label: label, split: .train))
        }
        listing.skipped += walk.skipped
        guard !listing.files.isEmpty else {
            throw DataError(.layout, path: flat, "no cat.N.jpg/dog.N.jpg files and no training_set/ + test_set/ folders: not a Dogs-vs-Cats folder")
        }
        for (c, name) in classNames.enumerated() where !listing.files.contains(where: { $0.label == Int32(c) }) {
            throw DataError(.layout, path: flat, "no \(name).N.jpg files: class \(name) would be empty")
        }
        assignSplits(&listing, options: split)
        return listing
    }

    // MARK: Helpers

    /// Adds the images of each class folder under `base`, every folder and file once (`TreeWalk`).
    static func collect(_ listing: inout SourceListing, walk: inout TreeWalk, base: String, classes: [String],
                        split: Split) throws {
        for (label, name) in classes.enumerated() {
            let folder = base + "/" + name
            var found = 0
            for file in try walk.files(in: folder) {
                let path = folder + "/" + file
                let ext = (file as NSString).pathExtension.lowercased()
                guard imageExtensions.contains(ext) else {
                    listing.skipped.append(SkippedFile(path: path, reason: "not an image file (extension .\(ext.isEmpty ? "none" : ext))"))
                    continue
                }
                guard walk.take(path) else { continue }
                listing.files.append(SourceFile(path: path, relativePath: relative(path, to: listing.root),
                                                label: Int32(label), split: split))
                found += 1
            }
            guard found > 0 else {
                throw DataError(.layout, path: folder, "class folder has no .jpg/.jpeg/.png images (an empty class cannot be learnt; remove the folder or add images)")
            }
        }
    }

    /// Seeded, stratified: see `SplitOptions`.
    static func assignSplits(_ listing: inout SourceListing, options: SplitOptions) {
        listing.files.sort { $0.relativePath < $1.relativePath }
        var byClass = [[Int]](repeating: [], count: listing.classNames.count)
        for (i, file) in listing.files.enumerated() { byClass[Int(file.label)].append(i) }
        for (c, indices) in byClass.enumerated() {
            var order = indices
            var rng = SplitMix64(seed: options.seed &+ UInt64(c) &* 0x9E37_79B9_7F4A_7C15)
            if order.count > 1 {
                for i in stride(from: order.count - 1, to: 0, by: -1) {
                    order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
                }
            }
            let testCount = Int((Double(order.count) * options.testFraction).rounded())
            for (k, i) in order.enumerated() { listing.files[i].split = k < testCount ? .test : .train }
        }
    }

    static func flowersNumber(_ name: String) -> Int? {
        let lower = name.lowercased()
        guard lower.hasPrefix("image_"), lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") else { return nil }
        let digits = lower.dropFirst(6).prefix(while: { $0.isNumber })
        guard !digits.isEmpty, lower.dropFirst(6 + digits.count).hasPrefix(".") else { return nil }
        return Int(digits)
    }

    static func displayNames(_ folders: [String], layout: Layout) -> [String] {
        layout == .imagenetSubset ? folders.map { synsetNames[$0] ?? $0 } : folders
    }

    static func looksLikeClassFolders(_ path: String) throws -> Bool {
        try listFolder(path).contains { isFolder(path + "/" + $0) }
    }

    /// The class folders of `root`: its folders, less links that lead back into the tree (recorded in `walk`).
    static func classFolders(_ root: String, walk: inout TreeWalk) throws -> [String] {
        let resolved = TreeWalk.resolve(root)
        let folders = try listFolder(root).filter { !$0.hasPrefix(".") && walk.classify(root + "/" + $0, in: resolved) == .directory }
        guard !folders.isEmpty else {
            let links = walk.skipped.filter { $0.path.hasPrefix(root + "/") }.map { ($0.path as NSString).lastPathComponent }
            throw DataError(.layout, path: root, "no class folders (expected one folder of images per class)"
                            + (links.isEmpty ? "" : "; passed over \(links.joined(separator: ", ")): symbolic link back into the tree"))
        }
        return folders
    }

    static func requireFolder(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(.notFound, path: path, "no such folder")
        }
        guard isDirectory.boolValue else { throw DataError(.layout, path: path, "is a file, expected a folder") }
    }

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Entries of a folder, sorted by name (byte order), so scans are deterministic.
    static func listFolder(_ path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw DataError(.unreadable, path: path, "cannot list folder: \(error.localizedDescription)")
        }
    }

    static func relative(_ path: String, to root: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }
}
