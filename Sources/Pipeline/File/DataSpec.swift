import Data
import Foundation
import Store

/// `data:` — where the images come from and how they are prepared.
public struct DataSpec: Sendable {
    public var layout: Layout
    public var directory: String
    /// Keep only the first N training / test images (after ingest), or all.
    public var trainExamples: Int?
    public var testExamples: Int?
    /// Resampling for folder layouts (required there), optional for Fashion-MNIST.
    public var preprocessing: Preprocessing?
    /// Train/test split for layouts that do not bring their own.
    public var split: SplitOptions

    init(_ f: YAMLFields) throws {
        let layouts = Dictionary(uniqueKeysWithValues: Layout.allCases.map { ($0.rawValue, $0) })
        layout = try f.required("source") { try f.choice($0, layouts) }
        directory = try f.string("directory") ?? (layout == .fashionMNIST ? FashionMNIST.defaultDirectory : "")
        if directory.isEmpty { throw f.error("directory", "missing required key (the folder holding the images)") }
        trainExamples = try f.int("train_examples")
        testExamples = try f.int("test_examples")
        for (k, v) in [("train_examples", trainExamples), ("test_examples", testExamples)] where (v ?? 1) < 1 {
            throw f.error(k, "must be at least 1")
        }
        if let p = try f.fields("preprocessing") {
            let size = try p.int("size")
            let width = try p.int("width") ?? size, height = try p.int("height") ?? size
            guard let width, let height else { throw p.error("size", "missing required key (or width and height)") }
            let fits = Dictionary(uniqueKeysWithValues: Preprocessing.Fit.allCases.map { ($0.rawValue, $0) })
            var pre = Preprocessing(width: width, height: height, resizeShorterSide: try p.int("resize_shorter_side"))
            if let fit = try p.choice("fit", fits) { pre.fit = fit }
            if let channels = try p.int("channels") { pre.channels = channels }
            try p.finish()
            do { try pre.validate() } catch { throw f.error("preprocessing", "\(error)") }
            preprocessing = pre
        } else if layout != .fashionMNIST {
            throw f.error("preprocessing", "missing required key: folder layouts are resampled to one size (e.g. {size: 224, resize_shorter_side: 256})")
        }
        let s = try f.fields("split")
        split = SplitOptions(testFraction: try s?.double("test_fraction") ?? 0.2, seed: UInt64(try s?.int("seed") ?? 0))
        try s?.finish()
        try f.finish()
    }

    /// The ingest stage's parameters.
    var ingestParameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = ["source": .string(layout.rawValue), "directory": .string(directory)]
        if let preprocessing { p["preprocessing"] = .string(DatasetJSON.encode(preprocessing)) }
        if layout != .fashionMNIST { p["split"] = ["test_fraction": .double(split.testFraction), "seed": .int(Int64(split.seed))] }
        return p
    }

    /// The preprocess stage's parameters (slicing of the ingested set).
    var preprocessParameters: [String: ParameterValue] {
        ["train_examples": trainExamples.map { .int(Int64($0)) } ?? .null,
         "test_examples": testExamples.map { .int(Int64($0)) } ?? .null]
    }
}

enum DatasetJSON {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Foundation.Data(), as: UTF8.self)
    }
}
