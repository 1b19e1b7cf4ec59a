import Foundation
import Store

/// A prepared data set as one HDF5 artifact. Layout (format version 1; h5py or h5dump read it):
///
/// | path | type | shape | meaning |
/// |---|---|---|---|
/// | `train/images` | uint8 | N×C×H×W | pixels, 0…255 (a model sees v/255) |
/// | `train/labels` | int32 | N | class index into `class_names` |
/// | `train/masks` | uint8 | N×H×W | optional key-region masks, 1 = key region |
/// | `test/…` | | | the same for the test split |
///
/// Attributes: on `/`: `layout` (string), `class_names` (string array), `preprocessing` (string,
/// canonical JSON; "" for native-size data), `split` (string, JSON `{"seed":…,"testFraction":…}`, ""
/// when the layout brought its own split), `skipped` (string array, `"path: reason"`, the path
/// relative to the source root); on `train`
/// and `test`: `file_names` (string array, one per image, relative to the source root).
///
/// The source root's absolute path is deliberately not stored: it is not content, and the same
/// images read from another folder must give the same artifact id.
public enum DatasetArtifact {
    public static let kind = "dataset"
    public static let formatVersion = 1

    /// Writes `data` as a plain HDF5 file at `path` (atomically).
    public static func write(_ data: PreparedDataset, to path: String) throws {
        try HDF5File.write(to: path) { w in
            try w.setAttribute("kind", .string(kind))
            try w.setAttribute("format_version", .int(Int64(formatVersion)))
            try write(data, into: w)
        }
    }

    /// Puts `data` into the artifact store; returns its id. `metadata.kind` should be "dataset".
    @discardableResult
    public static func put(_ data: PreparedDataset, in store: ArtifactStore, metadata: ArtifactMetadata) throws -> ArtifactID {
        try store.put(metadata) { w in try write(data, into: w) }
    }

    /// Reads a data set written by `write(_:to:)`.
    public static func read(from path: String) throws -> PreparedDataset {
        try HDF5File.read(from: path) { try read($0) }
    }

    /// Reads a data set artifact from the store.
    public static func read(_ id: ArtifactID, in store: ArtifactStore) throws -> PreparedDataset {
        try store.read(id) { try read($0) }
    }

    // MARK: The layout, once for both writers

    static func write(_ data: PreparedDataset, into w: some DatasetSink) throws {
        try w.setAttribute("layout", .string(data.layout.rawValue), on: "/")
        try w.setAttribute("class_names", .strings(data.train.classNames), on: "/")
        try w.setAttribute("preprocessing", .string(data.preprocessing.map(canonicalJSON) ?? ""), on: "/")
        try w.setAttribute("split", .string(data.split.map(canonicalJSON) ?? ""), on: "/")
        // Skipped paths relative to the source root too, so the id does not depend on where it lives.
        let skipped = data.skipped.map { SkippedFile(path: data.root.isEmpty ? $0.path : LayoutScanner.relative($0.path, to: data.root),
                                                     reason: $0.reason) }
        try w.setAttribute("skipped", .strings(skipped.map(\.description)), on: "/")
        for (name, d) in [("train", data.train), ("test", data.test)] {
            try d.validate(path: name)
            try w.createGroup(name)
            try w.write("\(name)/images", uint8: d.images, shape: [d.count, d.channels, d.height, d.width])
            try w.write("\(name)/labels", int32: d.labels, shape: [d.count])
            if let masks = d.masks { try w.write("\(name)/masks", uint8: masks, shape: [d.count, d.height, d.width]) }
            try w.setAttribute("file_names", .strings(d.fileNames), on: name)
        }
    }

    static func read(_ r: HDF5Reader) throws -> PreparedDataset {
        func fail(_ message: String) -> DataError { DataError(.corrupt, path: r.path, message) }
        guard let layoutName = try r.attribute("layout")?.stringValue, let layout = Layout(rawValue: layoutName) else {
            throw fail("not a dataset artifact: no valid 'layout' attribute")
        }
        guard let classNames = try r.attribute("class_names")?.stringsValue else { throw fail("no 'class_names' attribute") }
        let decoder = JSONDecoder()
        let preprocessingJSON = try r.attribute("preprocessing")?.stringValue ?? ""
        let splitJSON = try r.attribute("split")?.stringValue ?? ""
        let preprocessing = preprocessingJSON.isEmpty ? nil : try decoder.decode(Preprocessing.self, from: Data(preprocessingJSON.utf8))
        let split = splitJSON.isEmpty ? nil : try decoder.decode(SplitOptions.self, from: Data(splitJSON.utf8))
        let skipped = (try r.attribute("skipped")?.stringsValue ?? []).map { line -> SkippedFile in
            let parts = line.components(separatedBy: ": ")
            return SkippedFile(path: parts[0], reason: parts.dropFirst().joined(separator: ": "))
        }
        func readSplit(_ name: String) throws -> ImageDataset {
            let shape = try r.shape(of: "\(name)/images")
            guard shape.count == 4 else { throw fail("'\(name)/images' has shape \(shape), expected N×C×H×W") }
            let d = ImageDataset(
                images: try r.readUInt8("\(name)/images"), labels: try r.readInt32("\(name)/labels"), count: shape[0],
                channels: shape[1], height: shape[2], width: shape[3], classNames: classNames,
                fileNames: try r.attribute("file_names", on: name)?.stringsValue ?? [],
                masks: r.contains("\(name)/masks") ? try r.readUInt8("\(name)/masks") : nil)
            do { try d.validate(path: "\(r.path) \(name)") } catch let e as DataError { throw fail(e.message) }
            return d
        }
        return PreparedDataset(train: try readSplit("train"), test: try readSplit("test"), skipped: skipped, layout: layout,
                               root: "", preprocessing: preprocessing, split: split)
    }

    static func canonicalJSON<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }
}

/// What both the plain HDF5 writer and the store's artifact writer offer: enough to write a data set.
protocol DatasetSink {
    func createGroup(_ path: String) throws
    func write(_ path: String, uint8 data: [UInt8], shape: [Int]) throws
    func write(_ path: String, int32 data: [Int32], shape: [Int]) throws
    func setAttribute(_ name: String, _ value: HDF5Attribute, on path: String) throws
}

extension ArtifactWriter: DatasetSink {}

extension HDF5Writer: DatasetSink {
    func write(_ path: String, uint8 data: [UInt8], shape: [Int]) throws {
        try write(path, uint8: data, shape: shape, compression: .none)
    }
    func write(_ path: String, int32 data: [Int32], shape: [Int]) throws {
        try write(path, int32: data, shape: shape, compression: .none)
    }
}
