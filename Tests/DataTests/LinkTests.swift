import Foundation
import Testing
@testable import Data

/// Symbolic links, loops and hard links in data set trees (issue 16, fault 1): every layout reads
/// each folder and each file once, files an image only under the class it sits in, never puts one
/// file in both splits, and lists every link it passed over (an error under `--strict`). Links that
/// lead out of the tree keep working.
@Suite struct LinkTests {
    static let crop = Preprocessing(size: 24, dctScaling: false)

    func writePhoto(_ folder: TemporaryFolder, _ relative: String, seed: Int) throws {
        try folder.write(JPEG.encode(TestImages.photo(width: 24, height: 32, seed: seed), quality: 90), to: relative)
    }

    func symlink(_ folder: TemporaryFolder, _ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: folder.file(relative), withDestinationPath: target)
    }

    func hardLink(_ folder: TemporaryFolder, _ relative: String, to existing: String) throws {
        try FileManager.default.linkItem(atPath: folder.file(existing), toPath: folder.file(relative))
    }

    /// Every image once, under the class folder it sits in, in one split only.
    func expectEachFileOnce(_ data: PreparedDataset, classOf: (String) -> Int32,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        let names = data.train.fileNames + data.test.fileNames
        #expect(Set(names).count == names.count, "a file appears twice: \(names.sorted())", sourceLocation: sourceLocation)
        #expect(Set(data.train.fileNames).isDisjoint(with: data.test.fileNames), sourceLocation: sourceLocation)
        for d in [data.train, data.test] {
            for i in 0..<d.count {
                #expect(d.labels[i] == classOf(d.fileNames[i]), "\(d.fileNames[i]) filed as class \(d.labels[i])",
                        sourceLocation: sourceLocation)
            }
        }
    }

    /// The repro: `a/` and `b/` with two JPEGs each and `ln -s .. a/up`. Before the fix
    /// the walk followed `up` back to the root until paths grew too long: 164 images, `b/`'s
    /// files labelled `a`, the same files in train and test.
    @Test func symlinkLoopInImageFolderIsSkippedAndListed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for i in 0..<2 {
            try writePhoto(folder, "a/a\(i).jpg", seed: i)
            try writePhoto(folder, "b/b\(i).jpg", seed: 10 + i)
        }
        try symlink(folder, "a/up", to: "..")
        let data = try Ingest.folder(.imageFolder, root: folder.path, preprocessing: Self.crop,
                                     split: SplitOptions(testFraction: 0.5, seed: 0))
        #expect(data.train.classNames == ["a", "b"])
        #expect(data.train.count + data.test.count == 4)
        expectEachFileOnce(data) { $0.hasPrefix("a/") ? 0 : 1 }
        #expect(data.skipped.map(\.path) == [folder.file("a/up")])
        #expect(data.skipped.first?.reason.contains("symbolic link back into") == true, "\(data.skipped)")
        expectDataError(.layout, naming: folder.file("a/up"), containing: "symbolic link back into") {
            try Ingest.folder(.imageFolder, root: folder.path, preprocessing: Self.crop, strict: true)
        }
    }

    /// Links that lead out of the tree are followed: a class folder on another disk, a file from a
    /// download cache. A loop outside the tree is read once; a link to a folder above the one being
    /// walked is a loop and passed over.
    @Test func linksOutOfTheTreeKeepWorking() throws {
        let outside = try TemporaryFolder()
        defer { outside.remove() }
        try writePhoto(outside, "cats/c0.jpg", seed: 1)
        try writePhoto(outside, "cats/c1.jpg", seed: 2)
        try writePhoto(outside, "cache/x.jpg", seed: 3)
        try writePhoto(outside, "cats/more/c2.jpg", seed: 4)
        try symlink(outside, "cats/more/again", to: outside.file("cats"))   // a loop outside the tree
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try symlink(folder, "cats", to: outside.file("cats"))
        try writePhoto(folder, "dogs/d0.jpg", seed: 5)
        try symlink(folder, "dogs/d1.jpg", to: outside.file("cache/x.jpg"))
        let data = try Ingest.folder(.imageFolder, root: folder.path, preprocessing: Self.crop,
                                     split: SplitOptions(testFraction: 0, seed: 0))
        #expect(data.train.classNames == ["cats", "dogs"])
        #expect(data.train.fileNames == ["cats/c0.jpg", "cats/c1.jpg", "cats/more/c2.jpg", "dogs/d0.jpg", "dogs/d1.jpg"])
        #expect(data.train.labels == [0, 0, 0, 1, 1])
        #expect(data.skipped.map(\.path) == [folder.file("cats/more/again")])
        #expect(data.skipped.first?.reason.contains("a loop") == true, "\(data.skipped)")
    }

    /// A class folder linked to another class, a file linked (or hard-linked) into another class,
    /// a split folder linked to the other split: each image is read once, from where it sits.
    @Test func linksWithinTheTreeNeverRelabelOrLeakAcrossSplits() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for i in 0..<2 {
            try writePhoto(folder, "train/a/a\(i).jpg", seed: i)
            try writePhoto(folder, "train/b/b\(i).jpg", seed: 10 + i)
            try writePhoto(folder, "test/a/ta\(i).jpg", seed: 20 + i)
            try writePhoto(folder, "test/b/tb\(i).jpg", seed: 30 + i)
        }
        try symlink(folder, "train/b/from-a.jpg", to: "../a/a0.jpg")            // a file of class a, linked into b
        try hardLink(folder, "test/a/leak.jpg", to: "train/a/a1.jpg")          // a train file, hard-linked into test
        try symlink(folder, "test/b/deeper", to: "../../train")                  // the other split, linked in
        let data = try Ingest.folder(.imageFolder, root: folder.path, preprocessing: Self.crop)
        #expect(data.train.count == 4 && data.test.count == 4)
        expectEachFileOnce(data) { $0.dropFirst($0.hasPrefix("train/") ? 6 : 5).hasPrefix("a/") ? 0 : 1 }
        #expect(Set(data.skipped.map(\.path)) == Set(["train/b/from-a.jpg", "test/a/leak.jpg", "test/b/deeper"].map(folder.file)))
        #expect(data.skipped.first { $0.path.hasSuffix("leak.jpg") }?.reason.contains("the same file as") == true)

        // A whole split that is the other one under a second name is a tree error.
        let twin = try TemporaryFolder()
        defer { twin.remove() }
        try writePhoto(twin, "train/a/1.jpg", seed: 1)
        try writePhoto(twin, "train/b/2.jpg", seed: 2)
        try twin.makeFolder("test")
        try symlink(twin, "test/a", to: twin.file("train/a"))
        try symlink(twin, "test/b", to: twin.file("train/b"))
        expectDataError(.layout, naming: twin.file("test"), containing: "symbolic link back into") {
            try Ingest.folder(.imageFolder, root: twin.path, preprocessing: Self.crop)
        }
        _ = try? FileManager.default.removeItem(atPath: twin.file("test"))
        try FileManager.default.createSymbolicLink(atPath: twin.file("test"), withDestinationPath: "train")
        expectDataError(.layout, naming: twin.file("test/a"), containing: "is the same folder as") {
            try Ingest.folder(.imageFolder, root: twin.path, preprocessing: Self.crop)
        }
    }

    /// The other layouts walk with the same rules.
    @Test func everyLayoutReadsEachFileOnce() throws {
        // 17 Flowers: image 1 (a daffodil) linked as image 81 (a snowdrop) and hard-linked as 161.
        let flowers = try TemporaryFolder()
        defer { flowers.remove() }
        for n in [1, 2, 80] { try writePhoto(flowers, String(format: "jpg/image_%04d.jpg", n), seed: n) }
        try symlink(flowers, "jpg/image_0081.jpg", to: "image_0001.jpg")
        try hardLink(flowers, "jpg/image_0161.jpg", to: "jpg/image_0002.jpg")
        try symlink(flowers, "jpg/up", to: "..")
        let f = try Ingest.folder(.flowers17, root: flowers.path, preprocessing: Self.crop, split: SplitOptions(testFraction: 0.5))
        #expect(Set(f.train.fileNames + f.test.fileNames) == ["jpg/image_0001.jpg", "jpg/image_0002.jpg", "jpg/image_0080.jpg"])
        #expect(Set(f.skipped.map(\.path)) == Set(["jpg/image_0081.jpg", "jpg/image_0161.jpg", "jpg/up"].map(flowers.file)))

        // ImageNet subset: a synset folder holding a link to the root, and a link to the root beside the synsets.
        let imagenet = try TemporaryFolder()
        defer { imagenet.remove() }
        for (k, s) in ["n01440764", "n01443537"].enumerated() {
            for i in 0..<2 { try writePhoto(imagenet, "\(s)/\(s)_\(i).JPEG", seed: 10 * k + i) }
        }
        try symlink(imagenet, "n01440764/loop", to: "..")
        try symlink(imagenet, "everything", to: ".")
        let n = try Ingest.folder(.imagenetSubset, root: imagenet.path, preprocessing: Self.crop, split: SplitOptions(testFraction: 0.5))
        #expect(n.train.classNames == ["tench", "goldfish"])
        #expect(n.train.count + n.test.count == 4)
        expectEachFileOnce(n) { $0.hasPrefix("n01440764/") ? 0 : 1 }
        #expect(Set(n.skipped.map(\.path)) == Set(["n01440764/loop", "everything"].map(imagenet.file)))

        // Dogs-vs-Cats, flat: one file named both a cat and a dog; nested: a loop under cats/.
        let flat = try TemporaryFolder()
        defer { flat.remove() }
        for i in 0..<2 {
            try writePhoto(flat, "train/cat.\(i).jpg", seed: i)
            try writePhoto(flat, "train/dog.\(i).jpg", seed: 10 + i)
        }
        try hardLink(flat, "train/dog.7.jpg", to: "train/cat.0.jpg")
        try symlink(flat, "train/cat.9.jpg", to: "dog.1.jpg")
        let d = try Ingest.folder(.dogsVsCats, root: flat.path, preprocessing: Self.crop, split: SplitOptions(testFraction: 0.5))
        #expect(d.train.count + d.test.count == 4)
        expectEachFileOnce(d) { $0.hasPrefix("train/cat.") ? 0 : 1 }
        #expect(Set(d.skipped.map(\.path)) == Set(["train/dog.7.jpg", "train/cat.9.jpg"].map(flat.file)))

        let nested = try TemporaryFolder()
        defer { nested.remove() }
        for split in ["training_set", "test_set"] {
            try writePhoto(nested, "\(split)/cats/cat.1.jpg", seed: 1)
            try writePhoto(nested, "\(split)/dogs/dog.1.jpg", seed: 2)
        }
        try symlink(nested, "training_set/cats/up", to: "../..")
        let e = try Ingest.folder(.dogsVsCats, root: nested.path, preprocessing: Self.crop)
        #expect(e.train.count == 2 && e.test.count == 2)
        expectEachFileOnce(e) { $0.contains("/cats/") ? 0 : 1 }
        #expect(e.skipped.map(\.path) == [nested.file("training_set/cats/up")])
    }
}
