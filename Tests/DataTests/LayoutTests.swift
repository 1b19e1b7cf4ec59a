import CJPEG
import Foundation
import Testing
@testable import Data

/// Small trees of real JPEG files (written by libjpeg here) in each layout, ingested and checked
/// against an independent decode of the same files.
@Suite struct LayoutTests {
    /// 24×32 images at size 24 need no resize, only a centre crop of rows 4…27: so each ingested
    /// image must equal that crop of the reference decode, byte for byte.
    static let crop = Preprocessing(size: 24, dctScaling: false)

    func writePhoto(_ folder: TemporaryFolder, _ relative: String, seed: Int, width: Int = 24, height: Int = 32) throws {
        try folder.write(JPEG.encode(TestImages.photo(width: width, height: height, seed: seed), quality: 90), to: relative)
    }

    /// Checks that image `n` of `dataset` is the centre crop (rows 4…27) of the reference decode of `path`.
    func expectMatchesReference(_ dataset: ImageDataset, _ n: Int, path: String,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let reference = TestImages.referenceDecode(bytes, colorSpace: JCS_RGB)
        var expected = [UInt8](repeating: 0, count: 3 * 24 * 24)
        for c in 0..<3 { for y in 0..<24 { for x in 0..<24 { expected[(c * 24 + y) * 24 + x] = reference[y + 4, x, c] } } }
        #expect(Array(dataset.image(n)) == expected, "image \(n) (\(path)) differs from its reference decode",
                sourceLocation: sourceLocation)
    }

    @Test func flowers17WithTrimaps() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let numbers = [1, 2, 3, 80, 81, 82, 1360]
        for n in numbers { try writePhoto(folder, String(format: "jpg/image_%04d.jpg", n), seed: n) }
        try folder.write(Array("readme".utf8), to: "jpg/files.txt")
        try folder.write(Array("x".utf8), to: "jpg/notes.md")
        // A trimap for image 81: flower-red (128, 0, 0) in the top half, background blue below.
        var trimap = [UInt8](repeating: 0, count: 24 * 32 * 3)
        for y in 0..<32 { for x in 0..<24 { trimap[(y * 24 + x) * 3 + (y < 16 ? 0 : 2)] = 128 } }
        try folder.write(PNG.encode(RawImage(pixels: trimap, width: 24, height: 32, channels: 3)), to: "trimaps/image_0081.png")

        let data = try Ingest.folder(.flowers17, root: folder.path, preprocessing: Self.crop,
                                     split: SplitOptions(testFraction: 0.34, seed: 7))
        #expect(data.train.count + data.test.count == numbers.count)
        #expect(data.train.classNames.count == 17 && data.train.classNames[0] == "daffodil" && data.train.classNames[16] == "pansy")
        #expect(data.skipped.map(\.path) == [folder.file("jpg/notes.md")])
        for dataset in [data.train, data.test] {
            try dataset.validate()
            #expect(dataset.channels == 3 && dataset.height == 24 && dataset.width == 24)
            for i in 0..<dataset.count {
                let name = dataset.fileNames[i]
                let number = Int(name.dropFirst("jpg/image_".count).prefix(4))!
                #expect(dataset.labels[i] == Int32((number - 1) / 80), "\(name)")
                try expectMatchesReference(dataset, i, path: folder.file(name))
                // Masks: image 81 has its trimap (cropped rows 4…27: key rows 4…15 → first 12 rows);
                // the others have none, stored as all zeros.
                let mask = Array(dataset.masks![i * 576 ..< (i + 1) * 576])
                #expect(mask == (number == 81 ? [UInt8](repeating: 1, count: 288) + [UInt8](repeating: 0, count: 288)
                                               : [UInt8](repeating: 0, count: 576)), "\(name)")
            }
        }
        // Deterministic split: the same seed gives the same split, another seed may not.
        let again = try Ingest.folder(.flowers17, root: folder.path, preprocessing: Self.crop,
                                      split: SplitOptions(testFraction: 0.34, seed: 7))
        #expect(again.test.fileNames == data.test.fileNames && again.train.fileNames == data.train.fileNames)
        #expect(data.summary().contains("skipped 1 file"))
    }

    @Test func imagenetSubsetFoldersWithOwnSplit() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let synsets = ["n01440764", "n01443537", "n01491361", "n02085620"]
        for (k, s) in synsets.enumerated() {
            for i in 0..<3 { try writePhoto(folder, "train/\(s)/\(s)_\(i).JPEG", seed: k * 10 + i) }
            try writePhoto(folder, "val/\(s)/ILSVRC2012_val_\(k).JPEG", seed: 100 + k)
        }
        let data = try Ingest.folder(.imagenetSubset, root: folder.path, preprocessing: Self.crop)
        #expect(data.train.classNames == ["tench", "goldfish", "great white shark", "n02085620"])
        #expect(data.train.count == 12 && data.test.count == 4)
        #expect(data.train.countsPerClass == [3, 3, 3, 3] && data.test.countsPerClass == [1, 1, 1, 1])
        #expect(data.split == nil)
        for i in 0..<data.test.count {
            #expect(data.test.fileNames[i].hasPrefix("val/\(synsets[Int(data.test.labels[i])])/"))
            try expectMatchesReference(data.test, i, path: folder.file(data.test.fileNames[i]))
        }
    }

    @Test func dogsVsCatsBothLayouts() throws {
        let flat = try TemporaryFolder()
        defer { flat.remove() }
        for i in 0..<5 {
            try writePhoto(flat, "train/cat.\(i).jpg", seed: i)
            try writePhoto(flat, "train/dog.\(i).jpg", seed: 50 + i)
        }
        let a = try Ingest.folder(.dogsVsCats, root: flat.path, preprocessing: Self.crop, split: SplitOptions(testFraction: 0.4, seed: 1))
        #expect(a.train.classNames == ["cat", "dog"])
        #expect(a.train.countsPerClass == [3, 3] && a.test.countsPerClass == [2, 2])
        for d in [a.train, a.test] {
            for i in 0..<d.count {
                #expect(d.labels[i] == (d.fileNames[i].hasPrefix("train/cat.") ? 0 : 1))
                try expectMatchesReference(d, i, path: flat.file(d.fileNames[i]))
            }
        }

        let nested = try TemporaryFolder()
        defer { nested.remove() }
        for (split, count) in [("training_set", 3), ("test_set", 1)] {
            for i in 0..<count {
                try writePhoto(nested, "dataset/\(split)/cats/cat.\(i + 1).jpg", seed: i)
                try writePhoto(nested, "dataset/\(split)/dogs/dog.\(i + 1).jpg", seed: 9 + i)
            }
        }
        let b = try Ingest.folder(.dogsVsCats, root: nested.path, preprocessing: Self.crop)
        #expect(b.train.countsPerClass == [3, 3] && b.test.countsPerClass == [1, 1])
        #expect(b.test.fileNames == ["dataset/test_set/cats/cat.1.jpg", "dataset/test_set/dogs/dog.1.jpg"])
        try expectMatchesReference(b.test, 1, path: nested.file("dataset/test_set/dogs/dog.1.jpg"))
    }

    /// An ImageFolder tree with the damage real data sets carry: each bad file is skipped and
    /// named with its reason; good files are all there.
    @Test func imageFolderSkipsBadFilesAndNamesThem() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for i in 0..<4 {
            try writePhoto(folder, "apple/a\(i).jpg", seed: i)
            try writePhoto(folder, "pear/p\(i).jpg", seed: 20 + i)
        }
        // A grayscale, a progressive and a CMYK file decode fine (as RGB).
        try folder.write(JPEG.encode(TestImages.grayPhoto(width: 24, height: 32), quality: 90), to: "pear/gray.jpg")
        try folder.write(JPEG.encode(TestImages.photo(width: 24, height: 32), progressive: true), to: "pear/prog.jpg")
        try folder.write(JPEG.encode(RawImage(pixels: [UInt8](repeating: 200, count: 24 * 32 * 4), width: 24, height: 32, channels: 4)),
                         to: "pear/cmyk.jpg")
        let good = try JPEG.encode(TestImages.photo(width: 24, height: 32), quality: 90)
        try folder.write(Array(good.prefix(good.count / 2)), to: "apple/truncated.jpg")
        try folder.write(Array("<html>404</html>".utf8), to: "apple/html.jpg")
        try folder.write([0xFF, 0xD8, 0xFF] + [UInt8](repeating: 0x42, count: 100), to: "pear/corrupt.jpeg")
        try folder.write(Array("notes".utf8), to: "pear/notes.txt")
        try folder.write([], to: "pear/empty.png")

        let data = try Ingest.folder(.imageFolder, root: folder.path, preprocessing: Self.crop,
                                     split: SplitOptions(testFraction: 0.25, seed: 3), threads: 2)
        #expect(data.train.classNames == ["apple", "pear"])
        #expect(data.train.count + data.test.count == 11)
        let reasons = Dictionary(uniqueKeysWithValues: data.skipped.map { ($0.path, $0.reason) })
        #expect(Set(reasons.keys) == Set(["apple/truncated.jpg", "apple/html.jpg", "pear/corrupt.jpeg",
                                          "pear/notes.txt", "pear/empty.png"].map(folder.file)))
        #expect(reasons[folder.file("apple/truncated.jpg")]?.contains("JPEG") == true, "\(reasons)")
        #expect(reasons[folder.file("apple/html.jpg")]?.contains("not a JPEG or PNG image") == true)
        #expect(reasons[folder.file("pear/notes.txt")]?.contains("not an image file") == true)
        #expect(reasons[folder.file("pear/empty.png")]?.contains("empty") == true)
        let all = [data.train, data.test]
        for d in all { try d.validate() }
        let names = Set(all.flatMap(\.fileNames))
        #expect(names.contains("pear/gray.jpg") && names.contains("pear/prog.jpg") && names.contains("pear/cmyk.jpg"))
        // Strict mode turns the first skip into an error naming the file.
        #expect(throws: DataError.self) {
            try Ingest.folder(.imageFolder, root: folder.path, preprocessing: Self.crop, strict: true)
        }
    }

    @Test func treeProblemsAreErrors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        expectDataError(.notFound, naming: folder.file("nope")) {
            try Ingest.folder(.imageFolder, root: folder.file("nope"), preprocessing: Self.crop)
        }
        expectDataError(.layout, naming: folder.path, containing: "no class folders") {
            try Ingest.folder(.imageFolder, root: folder.path, preprocessing: Self.crop)
        }
        try writePhoto(folder, "a/1.jpg", seed: 1)
        try folder.makeFolder("b")
        expectDataError(.layout, naming: folder.file("b"), containing: "class folder has no") {
            try Ingest.folder(.imageFolder, root: folder.path, preprocessing: Self.crop)
        }
        expectDataError(.layout, naming: folder.path, containing: "Oxford 17 Flowers") {
            try Ingest.folder(.flowers17, root: folder.path, preprocessing: Self.crop)
        }
        expectDataError(.layout, naming: folder.path, containing: "Dogs-vs-Cats") {
            try Ingest.folder(.dogsVsCats, root: folder.path, preprocessing: Self.crop)
        }
        try writePhoto(folder, "cats-only/cat.1.jpg", seed: 1)
        expectDataError(.layout, naming: folder.file("cats-only"), containing: "class dog would be empty") {
            try Ingest.folder(.dogsVsCats, root: folder.file("cats-only"), preprocessing: Self.crop)
        }
        expectDataError(.layout, naming: folder.file("a/1.jpg"), containing: "expected a folder") {
            try Ingest.folder(.imageFolder, root: folder.file("a/1.jpg"), preprocessing: Self.crop)
        }
    }

    /// Preprocessing an ingested data set: Fashion-MNIST-like 28×28 gray to 32×32, masks along.
    @Test func preprocessResizesImagesAndMasks() throws {
        let n = 3
        var images = [UInt8](repeating: 0, count: n * 28 * 28)
        for k in 0..<n { for y in 8..<20 { for x in 8..<20 { images[k * 784 + y * 28 + x] = 200 } } }
        let dataset = ImageDataset(images: images, labels: [0, 1, 2], count: n, channels: 1, height: 28, width: 28,
                                   classNames: FashionMNIST.classNames, fileNames: ["a", "b", "c"])
        var withMasks = dataset
        withMasks.masks = FashionMNIST.foregroundMasks(of: dataset)
        let data = PreparedDataset(train: withMasks, test: withMasks.subset([0]), skipped: [], layout: .fashionMNIST,
                                   root: "x", preprocessing: nil, split: nil)
        let out = try Ingest.preprocess(data, with: Preprocessing(size: 32, filter: .bilinear, channels: 1))
        #expect(out.train.height == 32 && out.train.width == 32 && out.train.count == 3 && out.test.count == 1)
        try out.train.validate()
        // The square of 200s sits at 8…19 of 28, i.e. about 9.1…22.9 of 32.
        #expect(out.train.images[16 * 32 + 16] == 200 && out.train.images[2 * 32 + 2] == 0)
        #expect(out.train.masks![16 * 32 + 16] == 1 && out.train.masks![2 * 32 + 2] == 0)
        let maskCount = out.train.masks![0..<1024].reduce(0) { $0 + Int($1) }
        #expect(abs(maskCount - 14 * 14) <= 30, "mask of \(maskCount) pixels")
    }
}
