import Autodiff
import Foundation
import NN
import Robustness
import Store
import Tensors

/// Which images an activation artifact describes, and under which attack: the row labels of Table 2
/// and the captions of Figure 4. Stored as root attributes of the artifact.
public struct ActivationSource: Hashable, Sendable {
    /// The defense of the model, as the report names it ("AT+ALP", "PAT", "none").
    public var defense: String
    /// "clean" or "adversarial".
    public var imageSet: String
    /// "white-box", "gray-box", "black-box"; "" for clean images.
    public var threatModel: String
    /// The L∞ radius of the attack in [0, 1] pixel units; 0 for clean images.
    public var epsilon: Float
    /// Class names for captions (may be empty: captions then show indices).
    public var classNames: [String]

    public init(defense: String, imageSet: String = "clean", threatModel: String = "", epsilon: Float = 0, classNames: [String] = []) {
        self.defense = defense
        self.imageSet = imageSet
        self.threatModel = threatModel
        self.epsilon = epsilon
        self.classNames = classNames
    }

    public static func clean(defense: String, classNames: [String] = []) -> ActivationSource {
        ActivationSource(defense: defense, classNames: classNames)
    }

    public static func adversarial(defense: String, threatModel: String, epsilon: Float, classNames: [String] = []) -> ActivationSource {
        ActivationSource(defense: defense, imageSet: "adversarial", threatModel: threatModel, epsilon: epsilon, classNames: classNames)
    }

    /// "AT+ALP, gray-box ε=0.25" or "AT+ALP, clean".
    public var label: String {
        imageSet == "clean" ? "\(defense), clean" : "\(defense), \(threatModel) ε=\(formatNumber(Double(epsilon)))"
    }

    public func className(_ index: Int) -> String {
        classNames.indices.contains(index) ? classNames[index] : "\(index)"
    }
}

/// The spatial attention map of each group (group-0 … group-3) for every image of a set, the model's
/// predictions, optionally the key-region masks at each group's resolution, and for a small subset
/// the input images and (optionally) the raw group outputs: everything the analyze stage needs, so
/// that Table 2 and Figure 4 can be redrawn later without the model or the data set.
///
/// Attention is the paper's (and `attentionMap`'s) F(A) = (1/C)·Σ_c |A_c|^p with p = 2, unnormalised:
/// a map's scale is kept; every statistic atalp derives from it is scale-free.
///
/// Artifact layout (`kind` = "activation-stats", format version 1):
///
/// | path | type | shape | meaning |
/// |---|---|---|---|
/// | `group-<j>/attention` | float32 | N×H_j×W_j | F(A_j) per image |
/// | `group-<j>/mask` | float32 | N×H_j×W_j | optional: the share of each cell's input pixels that are key region, in [0, 1] |
/// | `group-<j>/activations` | float32 | M×C_j×H_j×W_j | optional: raw group outputs of the subset |
/// | `labels` | int64 | N | true labels |
/// | `predictions` | int64 | N | the model's argmax on these images |
/// | `masks` | uint8 | N×H×W | optional: key-region masks at input resolution (1 = key) |
/// | `subset/indices` | int64 | M | which images the subset holds (indices into 0..<N) |
/// | `subset/images` | float32 | M×C×H×W | those images, in [0, 1] |
///
/// Root attributes besides the store's: `defense`, `image_set`, `threat_model` (strings), `epsilon`,
/// `attention_exponent` (doubles), `groups` (int), `input_size` (ints: H, W), `class_names` (strings).
public struct ActivationStatistics {
    public static let kind = "activation-stats"
    public static let formatVersion = 1

    public var source: ActivationSource
    /// Per group, N×H_j×W_j.
    public var attention: [Tensor]
    /// Per group, N×H_j×W_j cell coverage of the key region, when masks were given.
    public var groupMasks: [Tensor]?
    /// N×H×W key-region masks at input resolution (nonzero = key), when given.
    public var masks: [UInt8]?
    public var labels: [Int]
    public var predictions: [Int]
    public var subsetIndices: [Int]
    /// M×C×H×W, the subset's input images.
    public var subsetImages: Tensor?
    /// Per group M×C_j×H_j×W_j, when raw activations were kept.
    public var subsetActivations: [Tensor]?
    public var exponent: Float
    /// The input images' height and width.
    public var inputHeight: Int, inputWidth: Int

    public init(source: ActivationSource, attention: [Tensor], groupMasks: [Tensor]? = nil, masks: [UInt8]? = nil, labels: [Int],
                predictions: [Int], subsetIndices: [Int] = [], subsetImages: Tensor? = nil, subsetActivations: [Tensor]? = nil,
                exponent: Float = 2, inputHeight: Int, inputWidth: Int) {
        self.inputHeight = inputHeight; self.inputWidth = inputWidth
        self.source = source; self.attention = attention; self.groupMasks = groupMasks; self.masks = masks
        self.labels = labels; self.predictions = predictions; self.subsetIndices = subsetIndices
        self.subsetImages = subsetImages; self.subsetActivations = subsetActivations; self.exponent = exponent
    }

    public var count: Int { labels.count }
    public var groupCount: Int { attention.count }

    /// Attention map of image `i` in group `j` as an H_j×W_j tensor.
    public func map(group j: Int, image i: Int) -> Tensor {
        let (h, w) = (attention[j].shape[1], attention[j].shape[2])
        return attention[j].rows(i..<(i + 1)).reshaped([h, w])
    }

    /// F(A) = (1/C)·Σ_c |A_c|^exponent of a group output A (N×C×H×W) → N×H×W.
    public static func attention(of groupOutput: Tensor, exponent: Float = 2) -> Tensor {
        let (n, _, h, w) = groupOutput.nchw
        let tape = Tape()
        return withExtendedLifetime(tape) { attentionMap(tape.constant(groupOutput), exponent: exponent).value.reshaped([n, h, w]) }
    }

    /// Runs `model` in evaluation mode, without gradients, over `data` in batches of `batchSize`
    /// (`batch` for each, then `assembling`: a sharded run computes the batches on different ranks
    /// and assembles them into the same statistics).
    /// - Parameters:
    ///   - masks: key-region masks N×H×W (nonzero = key) at the images' resolution, or nil.
    ///   - subset: indices of images whose input (and, with `keepActivations`, raw group outputs) are kept.
    public static func compute(_ model: any Classifier, on data: LabeledImages, source: ActivationSource, masks: [UInt8]? = nil,
                               subset: [Int] = [], keepActivations: Bool = false, exponent: Float = 2,
                               batchSize: Int = 100) -> ActivationStatistics {
        precondition(batchSize > 0 && data.count > 0, "nothing to analyse")
        let batches = stride(from: 0, to: data.count, by: batchSize).map { start in
            batch(model, images: data.images.rows(start..<min(start + batchSize, data.count)), first: start, subset: subset,
                  keepActivations: keepActivations, exponent: exponent)
        }
        return ActivationStatistics(assembling: batches, data: data, source: source, masks: masks, subset: subset,
                                    keepActivations: keepActivations, exponent: exponent)
    }

    /// Key-region masks (N×H×W, nonzero = key) at a group's resolution by area averaging: each output
    /// cell covers the box [y·H/h, (y+1)·H/h) × [x·W/w, (x+1)·W/w) of input pixels and holds the share
    /// of that box's area that is key region (fractional overlap at the box's edges when h does not
    /// divide H). Soft shares instead of a threshold, so a 7×7 map of a 28×28 image neither gains nor
    /// loses key region by rounding: Σ over cells of the share × cell area equals the key area exactly.
    public static func resizeMask(_ masks: [UInt8], count n: Int, height: Int, width: Int, to size: (Int, Int)) -> Tensor {
        let (oh, ow) = size
        let sy = Double(height) / Double(oh), sx = Double(width) / Double(ow)
        // Overlap weights of input row r with output row y (and the same for columns).
        func weights(_ outCount: Int, _ inCount: Int, _ scale: Double) -> [[(Int, Double)]] {
            (0..<outCount).map { o in
                let lo = Double(o) * scale, hi = Double(o + 1) * scale
                return (Int(lo.rounded(.down))..<min(Int(hi.rounded(.up)), inCount)).compactMap { i in
                    let overlap = min(hi, Double(i + 1)) - max(lo, Double(i))
                    return overlap > 0 ? (i, overlap) : nil
                }
            }
        }
        let wy = weights(oh, height, sy), wx = weights(ow, width, sx)
        let cellArea = sy * sx
        return Tensor(shape: [n, oh, ow]) { out in
            for k in 0..<n {
                let base = k * height * width
                for y in 0..<oh {
                    for x in 0..<ow {
                        var s = 0.0
                        for (r, a) in wy[y] { for (c, b) in wx[x] where masks[base + r * width + c] != 0 { s += a * b } }
                        out[(k * oh + y) * ow + x] = Float(s / cellArea)
                    }
                }
            }
        }
    }

    // MARK: Artifact

    /// Puts the statistics into the store. `metadata` carries the provenance (stage, parameters,
    /// inputs); its kind and format version are set to this artifact's.
    @discardableResult
    public func put(in store: ArtifactStore, metadata: ArtifactMetadata) throws -> ArtifactID {
        var m = metadata
        m.kind = Self.kind
        m.formatVersion = Self.formatVersion
        return try store.put(m) { w in try write(into: w) }
    }

    func write(into w: ArtifactWriter) throws {
        try w.setAttribute("defense", .string(source.defense))
        try w.setAttribute("image_set", .string(source.imageSet))
        try w.setAttribute("threat_model", .string(source.threatModel))
        try w.setAttribute("epsilon", .double(Double(source.epsilon)))
        try w.setAttribute("class_names", .strings(source.classNames))
        try w.setAttribute("attention_exponent", .double(Double(exponent)))
        try w.setAttribute("groups", .int(Int64(groupCount)))
        for (j, a) in attention.enumerated() {
            try w.createGroup("group-\(j)")
            try a.withUnsafeBufferPointer { try w.write("group-\(j)/attention", float32: $0, shape: a.shape) }
            if let g = groupMasks?[j] { try g.withUnsafeBufferPointer { try w.write("group-\(j)/mask", float32: $0, shape: g.shape) } }
            if let r = subsetActivations?[j] { try r.withUnsafeBufferPointer { try w.write("group-\(j)/activations", float32: $0, shape: r.shape) } }
        }
        try w.write("labels", int64: labels.map(Int64.init), shape: [count])
        try w.write("predictions", int64: predictions.map(Int64.init), shape: [count])
        try w.setAttribute("input_size", .ints([Int64(inputHeight), Int64(inputWidth)]))
        if let masks { try w.write("masks", uint8: masks, shape: [count, inputHeight, inputWidth]) }
        if let images = subsetImages {
            try w.createGroup("subset")
            try w.write("subset/indices", int64: subsetIndices.map(Int64.init), shape: [subsetIndices.count])
            try images.withUnsafeBufferPointer { try w.write("subset/images", float32: $0, shape: images.shape) }
        }
    }

    /// Reads an activation artifact from the store.
    public static func read(_ id: ArtifactID, in store: ArtifactStore) throws -> ActivationStatistics {
        try store.read(id) { try read($0) }
    }

    /// Reads an activation artifact from an HDF5 file (a store object or a copy of one).
    public static func read(from path: String) throws -> ActivationStatistics {
        try HDF5File.read(from: path) { try read($0) }
    }

    static func read(_ r: HDF5Reader) throws -> ActivationStatistics {
        func fail(_ message: String) -> AnalysisError { AnalysisError(path: r.path, message) }
        guard try r.attribute("kind")?.stringValue == kind else { throw fail("not an \(kind) artifact") }
        guard let groups = try r.attribute("groups")?.intValue, groups > 0 else { throw fail("no 'groups' attribute") }
        let source = ActivationSource(
            defense: try r.attribute("defense")?.stringValue ?? "?", imageSet: try r.attribute("image_set")?.stringValue ?? "clean",
            threatModel: try r.attribute("threat_model")?.stringValue ?? "",
            epsilon: Float(try r.attribute("epsilon")?.doubleValue ?? 0),
            classNames: try r.attribute("class_names")?.stringsValue ?? [])
        func tensor(_ path: String) throws -> Tensor { Tensor(shape: try r.shape(of: path), values: try r.readFloat32(path)) }
        let labels = try r.readInt64("labels").map(Int.init)
        let predictions = try r.readInt64("predictions").map(Int.init)
        var attention: [Tensor] = [], groupMasks: [Tensor] = [], activations: [Tensor] = []
        for j in 0..<Int(groups) {
            let a = try tensor("group-\(j)/attention")
            guard a.rank == 3, a.shape[0] == labels.count else { throw fail("group-\(j)/attention has shape \(a.shape) for \(labels.count) labels") }
            attention.append(a)
            if r.contains("group-\(j)/mask") { groupMasks.append(try tensor("group-\(j)/mask")) }
            if r.contains("group-\(j)/activations") { activations.append(try tensor("group-\(j)/activations")) }
        }
        guard predictions.count == labels.count else { throw fail("\(predictions.count) predictions for \(labels.count) labels") }
        let hasSubset = r.contains("subset/images")
        guard case .ints(let size)? = try r.attribute("input_size"), size.count == 2 else { throw fail("no 'input_size' attribute") }
        return ActivationStatistics(
            source: source, attention: attention, groupMasks: groupMasks.count == Int(groups) ? groupMasks : nil,
            masks: r.contains("masks") ? try r.readUInt8("masks") : nil, labels: labels, predictions: predictions,
            subsetIndices: hasSubset ? try r.readInt64("subset/indices").map(Int.init) : [],
            subsetImages: hasSubset ? try tensor("subset/images") : nil,
            subsetActivations: activations.count == Int(groups) ? activations : nil,
            exponent: Float(try r.attribute("attention_exponent")?.doubleValue ?? 2),
            inputHeight: Int(size[0]), inputWidth: Int(size[1]))
    }
}

/// The model's outputs in evaluation mode with no gradients. The tape is kept alive for the whole
/// forward pass: variables hold it weakly, and the optimiser may end a local's lifetime at its last use.
func evaluate(_ model: any Classifier, _ x: Tensor) -> ClassifierOutput {
    let tape = Tape()
    return withExtendedLifetime(tape) { model(tape.input(x, requiresGradient: false), mode: .evaluation) }
}

/// A number without trailing zeros: 0.25, 1, 0.0625.
func formatNumber(_ x: Double) -> String {
    var s = String(format: "%.6g", x)
    if s.contains(".") && !s.contains("e") {
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
    }
    return s
}
