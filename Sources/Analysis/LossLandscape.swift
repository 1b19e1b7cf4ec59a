import Autodiff
import Foundation
import NN
import Store
import Tensors

/// The grid and its directions for Figure 6.
public struct LossLandscapeConfiguration: Codable, Hashable, Sendable {
    /// The grid spans a, b ∈ [−radius, radius] (pixel units on the [0, 1] scale).
    public var radius: Float
    /// Points per axis; odd, so that (0, 0) is a grid point.
    public var steps: Int
    /// Seeds the Rademacher direction r2.
    public var seed: UInt64
    /// Grid points evaluated per forward pass.
    public var batchSize: Int

    public init(radius: Float = 0.25, steps: Int = 21, seed: UInt64 = 0, batchSize: Int = 64) {
        precondition(radius > 0 && steps >= 3 && steps % 2 == 1 && batchSize > 0, "radius > 0, an odd number of steps ≥ 3")
        self.radius = radius; self.steps = steps; self.seed = seed; self.batchSize = batchSize
    }

    /// The coordinates along each axis: `steps` evenly spaced values in [−radius, radius], exactly 0 in the middle.
    public var coordinates: [Float] {
        let half = steps / 2
        return (0..<steps).map { Float($0 - half) * radius / Float(half) }
    }
}

/// Loss landscapes (Figure 6): for an image x with label y,
///
///     z(a, b) = CE(f(x + a·r1 + b·r2), y),   r1 = sign(∇x CE(f(x), y)),   r2 ∈ {−1, +1}^dim (Rademacher)
///
/// on an evenly spaced grid of (a, b). The model runs in evaluation mode; r1 comes from a tape with
/// the input as its only gradient leaf (parameters are constants). Points are not clipped to [0, 1],
/// as in the paper: the landscape is a property of the function, not of valid images. z(0, 0) is the
/// model's loss on x itself.
///
/// Artifact (`kind` = "loss-landscape", format version 1), K images:
///
/// | path | type | shape | meaning |
/// |---|---|---|---|
/// | `loss` | float32 | K×A×B | z(a_i, b_j) with a along axis 1, b along axis 2 |
/// | `a`, `b` | float32 | A, B | the grid coordinates |
/// | `images` | float32 | K×C×H×W | the images x |
/// | `labels`, `indices` | int64 | K | their labels and indices in the source set |
///
/// Root attributes besides the store's: `defense` (string), `radius` (double), `seed` (int),
/// `class_names` (strings).
public struct LossLandscape {
    public static let kind = "loss-landscape"
    public static let formatVersion = 1

    public var defense: String
    public var configuration: LossLandscapeConfiguration
    public var a: [Float]
    public var b: [Float]
    /// K×A×B.
    public var loss: Tensor
    public var images: Tensor
    public var labels: [Int]
    public var indices: [Int]
    public var classNames: [String]

    public init(defense: String, configuration: LossLandscapeConfiguration, a: [Float], b: [Float], loss: Tensor, images: Tensor,
                labels: [Int], indices: [Int], classNames: [String] = []) {
        self.defense = defense; self.configuration = configuration; self.a = a; self.b = b; self.loss = loss
        self.images = images; self.labels = labels; self.indices = indices; self.classNames = classNames
    }

    /// The A×B grid of image k.
    public func grid(_ k: Int) -> Tensor { loss.rows(k..<(k + 1)).reshaped([a.count, b.count]) }

    /// The landscapes of the images `indices` of `images` (N×C×H×W in [0, 1]). Image k's r2 is drawn
    /// from `SeededRandom.derived(seed:, stream: indices[k])`, so each image's directions do not depend
    /// on which other images were chosen — and each grid can be computed apart (`grid(_:images:labels:index:configuration:)`,
    /// on the ranks of an MPI job) and assembled (`init(grids:…)`).
    public static func compute(_ model: any Classifier, images: Tensor, labels: [Int], indices: [Int], defense: String,
                               configuration c: LossLandscapeConfiguration = LossLandscapeConfiguration(),
                               classNames: [String] = []) -> LossLandscape {
        LossLandscape(grids: indices.map { grid(model, images: images, labels: labels, index: $0, configuration: c) }, images: images,
                      labels: labels, indices: indices, defense: defense, configuration: c, classNames: classNames)
    }

    /// The A×B grid of image `index` of `images` alone: r2 drawn from the stream keyed by `index`.
    public static func grid(_ model: any Classifier, images: Tensor, labels: [Int], index: Int,
                            configuration c: LossLandscapeConfiguration) -> Tensor {
        let x = images.rows(index..<index + 1)
        var rng = SeededRandom.derived(seed: c.seed, stream: UInt64(index))
        return grid(model, image: x, label: labels[index], r2: Tensor.rademacher(shape: x.shape, using: &rng),
                    coordinates: c.coordinates, batchSize: c.batchSize)
    }

    /// The landscapes of the images `indices` of `images` from their grids (A×B each, in `indices`' order).
    public init(grids: [Tensor], images: Tensor, labels: [Int], indices: [Int], defense: String, configuration c: LossLandscapeConfiguration,
                classNames: [String] = []) {
        precondition(grids.count == indices.count, "\(grids.count) grids for \(indices.count) images")
        let coordinates = c.coordinates, side = coordinates.count
        self.init(defense: defense, configuration: c, a: coordinates, b: coordinates,
                  loss: Tensor.concatenatingRows(grids.map { $0.reshaped([1, side, side]) }), images: images.gatherRows(indices),
                  labels: indices.map { labels[$0] }, indices: indices, classNames: classNames)
    }

    /// r1 = sign(∇x CE(f(x), y)) for one image (1×C×H×W), from an input-only tape.
    public static func gradientSign(_ model: any Classifier, image x: Tensor, label: Int) -> Tensor {
        let tape = Tape()
        let v = tape.input(x, requiresGradient: true)
        tape.backward(from: softmaxCrossEntropy(model(v, mode: .evaluation).logits, labels: [label]))
        return withExtendedLifetime(tape) { v.gradient!.sign() }
    }

    /// z over coordinates × coordinates for one image, row-major (a outer, b inner), batch by batch.
    static func grid(_ model: any Classifier, image x: Tensor, label: Int, r2: Tensor, coordinates: [Float], batchSize: Int) -> Tensor {
        let r1 = gradientSign(model, image: x, label: label)
        let points = coordinates.flatMap { a in coordinates.map { b in (a, b) } }
        let inner = x.count
        var losses: [Float] = []
        losses.reserveCapacity(points.count)
        var start = 0
        while start < points.count {
            let end = min(start + batchSize, points.count)
            let batch = x.withUnsafeBufferPointer { xb in r1.withUnsafeBufferPointer { d1 in r2.withUnsafeBufferPointer { d2 in
                Tensor(shape: [end - start] + Array(x.shape.dropFirst())) { out in
                    for (p, (a, b)) in points[start..<end].enumerated() {
                        for i in 0..<inner { out[p * inner + i] = xb[i] + a * d1[i] + b * d2[i] }
                    }
                }
            } } }
            let logits = evaluate(model, batch).logits.value
            losses += crossEntropyPerExample(logits: logits, labels: Array(repeating: label, count: end - start))
            start = end
        }
        return Tensor(shape: [coordinates.count, coordinates.count], values: losses)
    }

    // MARK: Artifact

    /// Puts the landscapes into the store; `metadata`'s kind and format version are set to this artifact's.
    @discardableResult
    public func put(in store: ArtifactStore, metadata: ArtifactMetadata) throws -> ArtifactID {
        var m = metadata
        m.kind = Self.kind
        m.formatVersion = Self.formatVersion
        return try store.put(m) { w in
            try w.setAttribute("defense", .string(defense))
            try w.setAttribute("radius", .double(Double(configuration.radius)))
            try w.setAttribute("seed", .int(Int64(bitPattern: configuration.seed)))
            try w.setAttribute("class_names", .strings(classNames))
            try loss.withUnsafeBufferPointer { try w.write("loss", float32: $0, shape: loss.shape) }
            try w.write("a", float32: a, shape: [a.count])
            try w.write("b", float32: b, shape: [b.count])
            try images.withUnsafeBufferPointer { try w.write("images", float32: $0, shape: images.shape) }
            try w.write("labels", int64: labels.map(Int64.init), shape: [labels.count])
            try w.write("indices", int64: indices.map(Int64.init), shape: [indices.count])
        }
    }

    public static func read(_ id: ArtifactID, in store: ArtifactStore) throws -> LossLandscape {
        try store.read(id) { try read($0) }
    }

    public static func read(from path: String) throws -> LossLandscape {
        try HDF5File.read(from: path) { try read($0) }
    }

    static func read(_ r: HDF5Reader) throws -> LossLandscape {
        guard try r.attribute("kind")?.stringValue == kind else { throw AnalysisError(path: r.path, "not a \(kind) artifact") }
        let a = try r.readFloat32("a"), b = try r.readFloat32("b")
        let loss = Tensor(shape: try r.shape(of: "loss"), values: try r.readFloat32("loss"))
        guard loss.rank == 3, loss.shape[1] == a.count, loss.shape[2] == b.count else {
            throw AnalysisError(path: r.path, "loss has shape \(loss.shape) for a grid of \(a.count)×\(b.count)")
        }
        let radius = Float(try r.attribute("radius")?.doubleValue ?? Double(a.map(abs).max() ?? 1))
        let seed = UInt64(bitPattern: try r.attribute("seed")?.intValue ?? 0)
        let steps = a.count % 2 == 1 && a.count >= 3 ? a.count : 3
        return LossLandscape(defense: try r.attribute("defense")?.stringValue ?? "?",
                             configuration: LossLandscapeConfiguration(radius: max(radius, .leastNormalMagnitude), steps: steps, seed: seed),
                             a: a, b: b, loss: loss, images: Tensor(shape: try r.shape(of: "images"), values: try r.readFloat32("images")),
                             labels: try r.readInt64("labels").map(Int.init), indices: try r.readInt64("indices").map(Int.init),
                             classNames: try r.attribute("class_names")?.stringsValue ?? [])
    }
}
