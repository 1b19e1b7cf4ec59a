import Foundation
import Testing
@testable import Data

@Suite struct IDXTests {
    @Test func readsPlainAndGzippedFiles() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let data: [UInt8] = (0..<24).map { UInt8($0 * 10) }
        let bytes = idxBytes(shape: [2, 3, 4], data: data)
        try folder.write(bytes, to: "plain-idx3-ubyte")
        try folder.write(try gzipped(bytes), to: "zipped-idx3-ubyte.gz")
        for name in ["plain-idx3-ubyte", "zipped-idx3-ubyte.gz"] {
            let idx = try IDXFile(contentsOf: folder.file(name))
            #expect(idx.shape == [2, 3, 4])
            #expect(idx.bytes == data)
        }
    }

    @Test func rejectsBadFilesNamingThem() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let good = idxBytes(shape: [3, 2], data: [1, 2, 3, 4, 5, 6])
        try folder.write(Array(good.dropLast(2)), to: "short")
        try folder.write(try gzipped(good).dropLast(12).map { $0 }, to: "short.gz")
        try folder.write([0x1f, 0x8b] + [UInt8](repeating: 7, count: 40), to: "garbage.gz")
        try folder.write([0x50, 0x4b, 3, 4, 0, 0, 0, 0], to: "zip")
        try folder.write(good + [9], to: "long")
        try folder.write(idxBytes(shape: [1], data: [0, 0, 0, 0], type: 0x0D), to: "float")
        try folder.write([0, 0, 8], to: "tiny")

        expectDataError(.corrupt, naming: folder.file("short"), containing: "truncated") { try IDXFile(contentsOf: folder.file("short")) }
        expectDataError(.corrupt, naming: folder.file("short.gz")) { try IDXFile(contentsOf: folder.file("short.gz")) }
        expectDataError(.corrupt, naming: folder.file("garbage.gz")) { try IDXFile(contentsOf: folder.file("garbage.gz")) }
        expectDataError(.corrupt, naming: folder.file("zip"), containing: "bad magic") { try IDXFile(contentsOf: folder.file("zip")) }
        expectDataError(.corrupt, naming: folder.file("long"), containing: "after") { try IDXFile(contentsOf: folder.file("long")) }
        expectDataError(.unsupported, naming: folder.file("float"), containing: "float32") { try IDXFile(contentsOf: folder.file("float")) }
        expectDataError(.corrupt, naming: folder.file("tiny"), containing: "truncated") { try IDXFile(contentsOf: folder.file("tiny")) }
        expectDataError(.notFound, naming: folder.file("missing")) { try IDXFile(contentsOf: folder.file("missing")) }
        expectDataError(.unreadable, naming: folder.path) { try IDXFile(contentsOf: folder.path) }
    }

    @Test func fashionMNISTLayoutErrors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        expectDataError(.notFound, naming: folder.file("nowhere")) { try FashionMNIST.load(directory: folder.file("nowhere")) }
        expectDataError(.notFound, naming: "train-images-idx3-ubyte") { try FashionMNIST.load(directory: folder.path) }
        // Three images, two labels.
        try folder.write(idxBytes(shape: [3, 2, 2], data: [UInt8](repeating: 1, count: 12)), to: "train-images-idx3-ubyte")
        try folder.write(try gzipped(idxBytes(shape: [2], data: [0, 1])), to: "train-labels-idx1-ubyte.gz")
        expectDataError(.mismatch, naming: folder.file("train-labels-idx1-ubyte.gz"), containing: "2 labels") {
            try FashionMNIST.loadSplit(directory: folder.path, prefix: "train")
        }
        try folder.write(idxBytes(shape: [3], data: [0, 1, 10]), to: "train-labels-idx1-ubyte")
        try FileManager.default.removeItem(atPath: folder.file("train-labels-idx1-ubyte.gz"))
        expectDataError(.corrupt, naming: folder.file("train-labels-idx1-ubyte"), containing: "label 10") {
            try FashionMNIST.loadSplit(directory: folder.path, prefix: "train")
        }
        try folder.write(idxBytes(shape: [3], data: [0, 1, 9]), to: "train-labels-idx1-ubyte")
        let split = try FashionMNIST.loadSplit(directory: folder.path, prefix: "train")
        #expect(split.count == 3 && split.height == 2 && split.width == 2 && split.channels == 1)
        #expect(split.labels == [0, 1, 9])
        #expect(split.fileNames == ["train-images-idx3-ubyte#0", "train-images-idx3-ubyte#1", "train-images-idx3-ubyte#2"])
        try split.validate()
    }

    /// The real data set from Debian's dataset-fashion-mnist: every image and label, checked
    /// against the IDX files read independently (gunzip by the system's gzip, header skipped by hand).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory)))
    func fashionMNISTLoadsCompletely() throws {
        let (train, test) = try FashionMNIST.load()
        #expect(train.count == 60000 && test.count == 10000)
        #expect(train.channels == 1 && train.height == 28 && train.width == 28)
        #expect(test.channels == 1 && test.height == 28 && test.width == 28)
        try train.validate()
        try test.validate()
        #expect(train.countsPerClass == [Int](repeating: 6000, count: 10))
        #expect(test.countsPerClass == [Int](repeating: 1000, count: 10))
        for (split, prefix) in [(train, "train"), (test, "t10k")] {
            let labels = try gunzipWithSystemTool(FashionMNIST.defaultDirectory + "/\(prefix)-labels-idx1-ubyte.gz")
            #expect(split.labels == labels.dropFirst(8).map { Int32($0) })
            let images = try gunzipWithSystemTool(FashionMNIST.defaultDirectory + "/\(prefix)-images-idx3-ubyte.gz")
            #expect(split.images == Array(images.dropFirst(16)))
        }
        #expect(train.labels.prefix(5) == [9, 0, 0, 3, 0])  // first five training labels of Fashion-MNIST
        #expect(test.labels.prefix(3) == [9, 2, 1])
    }

    @Test func foregroundMaskMarksGarmentPixels() {
        let dataset = ImageDataset(images: [0, 3, 8, 255], labels: [0], count: 1, channels: 1, height: 2, width: 2,
                                   classNames: FashionMNIST.classNames, fileNames: ["x"])
        #expect(FashionMNIST.foregroundMasks(of: dataset) == [0, 1, 1, 1])
        #expect(FashionMNIST.foregroundMasks(of: dataset, threshold: 8) == [0, 0, 1, 1])
    }
}

func gunzipWithSystemTool(_ path: String) throws -> [UInt8] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-dc", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return [UInt8](data)
}
