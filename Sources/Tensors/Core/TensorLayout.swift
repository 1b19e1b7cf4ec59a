/// How a tensor's elements lie in memory. The shape is always the logical one (N×C×H×W for images);
/// only the order of the elements in storage differs.
///
/// oneDNN's kernels for AVX-512 read and write activations with the channels in blocks of 16
/// (`nChw16c`); converting to row-major around every convolution and batch norm would cost more than
/// some of the layers themselves (issue 19: ~7 ms a ResNet-20 step against 0.05 ms staying blocked).
/// So the oneDNN backend hands its outputs back blocked, and every other reader sees row-major
/// elements: `withUnsafeBufferPointer` converts (once per storage, see `TensorStorage.plainCopy`).
/// Only code that asks for the layout (`withUnsafeStorage`) sees blocked memory.
public enum TensorLayout: Hashable, Sendable, CustomStringConvertible {
    /// Row-major (NCHW for images, OIHW for weights).
    case plain
    /// oneDNN's `nChw16c`: N × C/16 × H × W × 16, for rank-4 tensors whose C is a multiple of 16.
    case channelBlocked16

    /// Channels per block.
    public static let blockSize = 16

    /// Whether a tensor of `shape` can be stored this way (blocked needs rank 4 and C a multiple of 16:
    /// no padded channels, so both layouts hold exactly `count` elements).
    public func admits(_ shape: [Int]) -> Bool {
        switch self {
        case .plain: return true
        case .channelBlocked16: return shape.count == 4 && shape[1] % Self.blockSize == 0 && shape[1] > 0
        }
    }

    public var description: String { self == .plain ? "plain" : "nChw16c" }
}

extension Tensor {
    /// The same values in `layout` (self when already so). Shape: any for `.plain`, N×C×H×W with
    /// C % 16 = 0 for `.channelBlocked16` (a precondition).
    public func converted(to target: TensorLayout) -> Tensor {
        if target == layout { return self }
        precondition(target.admits(shape), "a tensor of shape \(shape) cannot be stored \(target)")
        if target == .plain { return Tensor(plainStorage: storage.plainCopy(shape: shape), shape: shape) }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let blocked = TensorStorage(uninitializedCount: count)
        Profiler.measure("layout: plain → blocked") {
            withUnsafeBufferPointer { src in
                TensorLayout.reorder(from: SendablePointer(src), to: SendablePointer(blocked.pointer), n: n, c: c, plane: h * w, toBlocked: true)
            }
        }
        return Tensor(storage: blocked, shape: shape, layout: .channelBlocked16)
    }
}

extension TensorLayout {
    /// nChw16c ↔ NCHW for C % 16 = 0: a transpose of each 16 × plane tile, parallel over tiles. Tile
    /// (image i, block j) starts at the same offset, (i·C/16 + j)·16·plane, in both layouts.
    /// Memory-bound; written here rather than as a oneDNN reorder so that the tensor core does not
    /// depend on a backend.
    static func reorder(from src: SendablePointer<Float>, to dst: SendablePointer<Float>, n: Int, c: Int, plane: Int, toBlocked: Bool) {
        let b = blockSize
        Parallel.forEachChunk(n * (c / b), minimumChunk: 2) { _, tiles in
            for tile in tiles {
                let s = src.base + tile * b * plane, d = dst.base + tile * b * plane
                if toBlocked {
                    for k in 0..<b { for p in 0..<plane { d[p * b + k] = s[k * plane + p] } }
                } else {
                    for k in 0..<b { for p in 0..<plane { d[k * plane + p] = s[p * b + k] } }
                }
            }
        }
    }
}
