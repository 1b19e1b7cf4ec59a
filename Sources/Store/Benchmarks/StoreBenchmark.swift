import Randomness
import Foundation

/// Fixed I/O workloads for `atalp store _bench`, mirrored by benchmarks/store/h5py_peer.py:
///
/// - `mnist`: a 60000×28×28 uint8 image set (47 MB) plus 60000 int64 labels.
/// - `resnet18`: a ResNet-18 checkpoint for 10 classes: 62 float32 tensors with PyTorch's names
///   (`layer1.0.conv1.weight`, ...), 11,173,962 parameters (44.7 MB).
///
/// Each workload is timed twice: through the HDF5 layer (`HDF5File.write`: temp file, fsync,
/// rename — the peer does the same with h5py, `os.fsync` and `os.replace`) and through the store
/// (`ArtifactStore.put`, which also hashes the content and publishes the object; the peer hashes
/// with hashlib.sha256). Reads read every dataset into memory. Times are medians over the repeats.
public enum StoreBenchmark {
    public struct Timing: Sendable {
        public var name: String
        public var write: Double
        public var read: Double
        public var bytes: Int
    }

    /// The tensors of a ResNet-18 (basic blocks [2, 2, 2, 2]) with a 10-class head, in state-dict order.
    public static func resnet18Shapes(classes: Int = 10) -> [(String, [Int])] {
        var shapes: [(String, [Int])] = [("conv1.weight", [64, 3, 7, 7]), ("bn1.weight", [64]), ("bn1.bias", [64])]
        var inChannels = 64
        for (layer, channels) in [64, 128, 256, 512].enumerated() {
            for block in 0..<2 {
                let p = "layer\(layer + 1).\(block)"
                let cin = block == 0 ? inChannels : channels
                shapes += [("\(p).conv1.weight", [channels, cin, 3, 3]), ("\(p).bn1.weight", [channels]), ("\(p).bn1.bias", [channels]),
                           ("\(p).conv2.weight", [channels, channels, 3, 3]), ("\(p).bn2.weight", [channels]), ("\(p).bn2.bias", [channels])]
                if block == 0 && cin != channels {
                    shapes += [("\(p).downsample.0.weight", [channels, cin, 1, 1]), ("\(p).downsample.1.weight", [channels]),
                               ("\(p).downsample.1.bias", [channels])]
                }
            }
            inChannels = channels
        }
        return shapes + [("fc.weight", [classes, 512]), ("fc.bias", [classes])]
    }

    /// The workloads' data, generated once (deterministically) and reused by every round.
    public final class Workloads: @unchecked Sendable {
        let images: [UInt8]
        let labels: [Int64]
        let tensors: [(String, [Int], [Float])]

        public init() {
            var generator = SplitMix64(seed: 42)
            images = (0..<(60000 * 28 * 28)).map { _ in UInt8(truncatingIfNeeded: generator.next() >> 56) }
            labels = (0..<60000).map { _ in Int64(generator.next() % 10) }
            tensors = StoreBenchmark.resnet18Shapes().map { name, shape in
                (name, shape, (0..<shape.reduce(1, *)).map { _ in Float(Int64(generator.next() >> 40) - (1 << 23)) / Float(1 << 26) })
            }
        }
    }

    /// Runs every workload `repeats` times in `directory` (created, then removed).
    public static func run(_ workloads: Workloads = Workloads(), directory: String, repeats: Int = 5) throws -> [Timing] {
        try POSIX.makeDirectories(directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let images = workloads.images, labels = workloads.labels, tensors = workloads.tensors

        func writeMNIST(_ w: (String, [UInt8], [Int]) throws -> Void, _ l: (String, [Int64], [Int]) throws -> Void) throws {
            try w("images", images, [60000, 28, 28])
            try l("labels", labels, [60000])
        }

        func readAll(_ r: HDF5Reader) throws {
            for path in try r.datasetPaths() {
                switch try r.dtype(of: path) {
                case .uint8: _ = try r.readUInt8(path)
                case .float32: _ = try r.readFloat32(path)
                case .int32: _ = try r.readInt32(path)
                case .int64: _ = try r.readInt64(path)
                }
            }
        }

        var timings: [Timing] = []
        func measure(_ name: String, write: (Int) throws -> String, read: (String) throws -> Void) throws {
            var writes: [Double] = [], reads: [Double] = []
            var bytes = 0
            for i in 0..<repeats {
                let start = DispatchTime.now()
                let path = try write(i)
                writes.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
                bytes = ArtifactStore.stamp(path)?.size ?? 0
                let readStart = DispatchTime.now()
                try read(path)
                reads.append(Double(DispatchTime.now().uptimeNanoseconds - readStart.uptimeNanoseconds) / 1e9)
            }
            timings.append(Timing(name: name, write: median(writes), read: median(reads), bytes: bytes))
        }

        try measure("mnist hdf5", write: { i in
            let path = "\(directory)/mnist-\(i).h5"
            try HDF5File.write(to: path) { w in
                try writeMNIST({ try w.write($0, uint8: $1, shape: $2) }, { try w.write($0, int64: $1, shape: $2) })
            }
            return path
        }, read: { try HDF5File.read(from: $0, readAll) })
        try measure("resnet18 hdf5", write: { i in
            let path = "\(directory)/resnet-\(i).h5"
            try HDF5File.write(to: path) { w in
                for (name, shape, values) in tensors { try w.write(name, float32: values, shape: shape) }
            }
            return path
        }, read: { try HDF5File.read(from: $0, readAll) })

        // A fresh store per repeat, opened before the clock starts (the peer makes its directory
        // untimed too), so every put really writes.
        let mnistStores = try (0..<repeats).map { try ArtifactStore(root: "\(directory)/store-mnist-\($0)") }
        let resnetStores = try (0..<repeats).map { try ArtifactStore(root: "\(directory)/store-resnet-\($0)") }
        try measure("mnist store", write: { i in
            let store = mnistStores[i]
            let id = try store.put(ArtifactMetadata(kind: "dataset")) { a in
                try writeMNIST({ try a.write($0, uint8: $1, shape: $2) }, { try a.write($0, int64: $1, shape: $2) })
            }
            return store.path(of: id)
        }, read: { try HDF5File.read(from: $0, readAll) })
        try measure("resnet18 store", write: { i in
            let store = resnetStores[i]
            let id = try store.put(ArtifactMetadata(kind: "checkpoint")) { a in
                for (name, shape, values) in tensors { try a.write(name, float32: values, shape: shape) }
            }
            return store.path(of: id)
        }, read: { try HDF5File.read(from: $0, readAll) })
        return timings
    }

    /// Mean seconds per cache-hit `lookup` of a key with two recorded outputs.
    public static func lookupCost(directory: String, iterations: Int = 2000) throws -> Double {
        let store = try ArtifactStore(root: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spec = StageSpec(stage: "bench", implementationVersion: 1, parameters: ["lr": 0.1, "epochs": 10])
        _ = try store.run(spec) {
            ["model": try store.put(ArtifactMetadata(kind: "checkpoint")) { try $0.write("w", float32: [1, 2], shape: [2]) },
             "log": try store.put(ArtifactMetadata(kind: "evaluation")) { try $0.write("acc", float32: [0.9], shape: [1]) }]
        }
        let key = try spec.key()
        guard store.lookup(key) != nil else { throw StoreError.io("bench: lookup missed") }
        let start = DispatchTime.now()
        for _ in 0..<iterations { _ = store.lookup(key) }
        return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 / Double(iterations)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
