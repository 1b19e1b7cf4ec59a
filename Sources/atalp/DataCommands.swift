import ArgumentParser
import Data
import Foundation
import Store

/// Options shared by `ingest` and `preprocess`: the output size and how to get there.
struct PreprocessingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Output side in pixels (square; the paper: 224; small runs: 32). Default: 224 for photo layouts, native 28 for fashion-mnist.", valueName: "N"))
    var size: Int?

    @Option(help: ArgumentHelp("Resize the shorter side to this before the centre crop (default: --size).", valueName: "N"))
    var resizeShorterSide: Int?

    @Option(help: ArgumentHelp("Resampling filter: bilinear (antialiased when shrinking) or area.", valueName: "FILTER"))
    var filter: String = ResizeFilter.bilinear.rawValue

    @Option(help: ArgumentHelp("1 (gray) or 3 (RGB). Default: 3 for photo layouts, 1 for fashion-mnist.", valueName: "C"))
    var channels: Int?

    @Flag(help: "Stretch to --size×--size instead of resizing the shorter side and cropping the centre.")
    var stretch = false

    @Flag(help: "Decode JPEGs at full size even when shrinking by 2× or more (no libjpeg DCT scaling).")
    var noDctScaling = false

    func preprocessing(size: Int, channels defaultChannels: Int) throws -> Preprocessing {
        guard let filter = ResizeFilter(rawValue: filter) else {
            throw ValidationError("--filter must be one of: \(ResizeFilter.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let p = Preprocessing(size: size, resizeShorterSide: resizeShorterSide, fit: stretch ? .stretch : .centerCrop,
                              filter: filter, channels: channels ?? defaultChannels, dctScaling: !noDctScaling)
        do { try p.validate() } catch let error as DataError { throw ValidationError(error.message) }
        return p
    }

    var parameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = ["filter": .string(filter), "stretch": .bool(stretch), "dct_scaling": .bool(!noDctScaling)]
        if let size { p["size"] = .int(Int64(size)) }
        if let resizeShorterSide { p["resize_shorter_side"] = .int(Int64(resizeShorterSide)) }
        if let channels { p["channels"] = .int(Int64(channels)) }
        return p
    }
}

/// Where a data set goes: the store (default) and/or a plain HDF5 file.
struct DatasetOutputOptions: ParsableArguments {
    @OptionGroup var store: StoreOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Also write the data set to this HDF5 file.", valueName: "FILE"))
    var output: String?

    func save(_ data: PreparedDataset, metadata: ArtifactMetadata) throws {
        let id = try DatasetArtifact.put(data, in: store.open(), metadata: metadata)
        if let output { try DatasetArtifact.write(data, to: output) }
        print("dataset artifact \(id.hex)" + (output.map { " (also written to \($0))" } ?? ""))
    }
}

/// `atalp ingest SOURCE [PATH]`: images on disk → a dataset artifact.
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Read a data set from disk into a dataset artifact.",
        discussion: """
            SOURCE is fashion-mnist (PATH defaults to \(FashionMNIST.defaultDirectory), from Debian's \
            dataset-fashion-mnist) or a layout and its folder:
              flowers17        jpg/image_0001.jpg … image_1360.jpg, optional trimaps/
              imagenet-subset  one folder per synset, or train/ and val/ of them
              dogs-vs-cats     cat.N.jpg and dog.N.jpg, or training_set/ and test_set/
              image-folder     one folder per class, or train/ and test/ of them

            Layouts without a split of their own are split per class by --test-fraction and --seed. \
            Files that cannot be read (corrupt, truncated, not images) are skipped and listed; a wrong \
            path, an empty class folder or a folder that is not the layout is an error. --strict makes \
            every skip an error. See docs/data.md.
            """
    )

    @Argument(help: ArgumentHelp("fashion-mnist, flowers17, imagenet-subset, dogs-vs-cats or image-folder.", valueName: "SOURCE"))
    var source: String

    @Argument(help: ArgumentHelp("The data set's folder.", valueName: "PATH"))
    var path: String?

    @OptionGroup var preprocessing: PreprocessingOptions
    @OptionGroup var output: DatasetOutputOptions

    @Option(help: ArgumentHelp("Fraction of each class held out for testing, where the layout has no split.", valueName: "F"))
    var testFraction: Double = 0.2

    @Option(help: ArgumentHelp("Seed of the train/test split.", valueName: "N"))
    var seed: UInt64 = 0

    @Flag(help: "Fail on the first unreadable file instead of skipping it.")
    var strict = false

    @Option(help: ArgumentHelp("Decoding threads (default: all cores).", valueName: "N"))
    var threads: Int?

    func validate() throws {
        guard let layout = Layout(rawValue: source) else {
            throw ValidationError("unknown source '\(source)'; expected one of: \(Layout.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if layout != .fashionMNIST && path == nil { throw ValidationError("\(source) needs the data set's folder: atalp ingest \(source) PATH") }
        guard testFraction >= 0 && testFraction < 1 else { throw ValidationError("--test-fraction must be in [0, 1)") }
        guard (threads ?? 1) >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let layout = Layout(rawValue: source)!
        let split = SplitOptions(testFraction: testFraction, seed: seed)
        let data: PreparedDataset
        let bar = ProgressBar(label: "decoding")
        if layout == .fashionMNIST {
            let directory = path ?? FashionMNIST.defaultDirectory
            let p = try preprocessing.size.map { try preprocessing.preprocessing(size: $0, channels: 1) }
            data = try Ingest.fashionMNIST(directory: directory, preprocessing: p)
        } else {
            let p = try preprocessing.preprocessing(size: preprocessing.size ?? 224, channels: 3)
            data = try Ingest.folder(layout, root: path!, preprocessing: p, split: split, strict: strict, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                     progress: { done, total in bar.update(done, total) })
            bar.finish()
        }
        var parameters = preprocessing.parameters
        parameters["layout"] = .string(layout.rawValue)
        parameters["strict"] = .bool(strict)
        if layout != .fashionMNIST {
            parameters["test_fraction"] = .double(testFraction)
            parameters["seed"] = .int(Int64(bitPattern: seed))
        }
        print(data.summary())
        try output.save(data, metadata: ArtifactMetadata(kind: DatasetArtifact.kind, stage: "ingest", stageVersion: 1,
                                                          parameters: parameters))
    }
}

/// `atalp preprocess INPUT --size N`: a dataset artifact → the same images at another size.
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Resize a dataset artifact's images (and masks) to the size a pipeline asks for.",
        discussion: """
            INPUT is a dataset artifact id (or a unique prefix of at least 4 hex digits) in the store, \
            or an HDF5 file written by `ingest --output`. Example: atalp preprocess 3f2a --size 32
            """
    )

    @Argument(help: ArgumentHelp("A dataset artifact id or an HDF5 file.", valueName: "INPUT"))
    var input: String

    @OptionGroup var preprocessing: PreprocessingOptions
    @OptionGroup var output: DatasetOutputOptions

    func validate() throws {
        guard preprocessing.size != nil else { throw ValidationError("preprocess needs --size") }
    }

    func run() throws {
        let store = try output.store.open()
        var inputs: [String: ArtifactID] = [:]
        let data: PreparedDataset
        if FileManager.default.fileExists(atPath: input) {
            data = try DatasetArtifact.read(from: input)
        } else {
            let id = try store.resolve(input)
            inputs["dataset"] = id
            data = try DatasetArtifact.read(id, in: store)
        }
        let p = try preprocessing.preprocessing(size: preprocessing.size!, channels: data.train.channels)
        let bar = ProgressBar(label: "resizing")
        let out = try Ingest.preprocess(data, with: p, progress: { done, total in bar.update(done, total) })
        bar.finish()
        print(out.summary())
        try output.save(out, metadata: ArtifactMetadata(kind: DatasetArtifact.kind, stage: "preprocess", stageVersion: 1,
                                                         parameters: preprocessing.parameters, inputs: inputs))
    }
}

/// A one-line progress bar on standard error, drawn only when it is a terminal.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let enabled = isatty(2) != 0
    private let lock = NSLock()
    private var drawn = false

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        let width = 30, filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
        drawn = true
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}
