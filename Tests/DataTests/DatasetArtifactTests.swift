import Foundation
import Store
import Testing
@testable import Data

@Suite struct DatasetArtifactTests {
    func sample() -> PreparedDataset {
        let train = ImageDataset(images: (0..<(3 * 3 * 2 * 2)).map { UInt8($0) }, labels: [0, 1, 1], count: 3, channels: 3,
                                 height: 2, width: 2, classNames: ["a", "b"], fileNames: ["a/1.jpg", "b/2.jpg", "b/3.jpg"],
                                 masks: [1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0])
        let test = train.subset([2])
        return PreparedDataset(train: train, test: test, skipped: [SkippedFile(path: "/somewhere/b/bad.jpg", reason: "corrupt JPEG: x: y")],
                               layout: .imageFolder, root: "/somewhere", preprocessing: Preprocessing(size: 2),
                               split: SplitOptions(testFraction: 0.25, seed: 9))
    }

    @Test func roundTripsThroughAPlainFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let data = sample()
        try DatasetArtifact.write(data, to: folder.file("d.h5"))
        let back = try DatasetArtifact.read(from: folder.file("d.h5"))
        #expect(back.train == data.train && back.test == data.test)
        #expect(back.skipped == [SkippedFile(path: "b/bad.jpg", reason: "corrupt JPEG: x: y")] && back.layout == .imageFolder)
        #expect(back.preprocessing == data.preprocessing && back.split == data.split)
        let (images, masks, names) = try HDF5File.read(from: folder.file("d.h5")) { r in
            (try r.shape(of: "train/images"), try r.shape(of: "train/masks"), try r.attribute("class_names")?.stringsValue)
        }
        #expect(images == [3, 3, 2, 2] && masks == [3, 2, 2] && names == ["a", "b"])
    }

    @Test func roundTripsThroughTheStoreWithAStableID() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = try ArtifactStore(root: folder.file("store"))
        var data = sample()
        let id = try DatasetArtifact.put(data, in: store, metadata: ArtifactMetadata(kind: DatasetArtifact.kind))
        data.root = "/elsewhere"   // where the files came from is not content
        data.skipped = [SkippedFile(path: "/elsewhere/b/bad.jpg", reason: "corrupt JPEG: x: y")]
        let again = try DatasetArtifact.put(data, in: store, metadata: ArtifactMetadata(kind: DatasetArtifact.kind))
        #expect(id == again)
        let back = try DatasetArtifact.read(id, in: store)
        #expect(back.train == data.train && back.test == data.test)
    }

    @Test func rejectsFilesThatAreNotDatasets() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try HDF5File.write(to: folder.file("x.h5")) { w in try w.write("weights", float32: [1, 2], shape: [2]) }
        expectDataError(.corrupt, naming: folder.file("x.h5"), containing: "not a dataset artifact") {
            try DatasetArtifact.read(from: folder.file("x.h5"))
        }
    }
}
