import Foundation
import Autodiff
import Store
import Tensors

/// A model's state (and optionally its optimiser's) as one HDF5 file, laid out so that PyTorch users
/// can read it with h5py and no atalp:
///
///     /<name>                 one float32 dataset per parameter and buffer, PyTorch's name and shape
///                             (`layer1.0.conv1.weight`: O×I×KH×KW; `bn1.num_batches_tracked`: int64 scalar)
///     /optimizer/<name>.<s>   optimiser state, e.g. `fc.weight.momentum_buffer` (optional)
///     attributes on /         kind = "checkpoint", format_version, architecture (JSON), and the caller's metadata
///
/// The write is atomic (temporary file, fsync, rename), so a crash never leaves half a checkpoint.
public enum Checkpoint {
    public static let formatVersion: Int64 = 1

    public static func save(_ model: any Module, optimizer: (any Optimizer)? = nil, architecture: String? = nil,
                            metadata: [String: HDF5Attribute] = [:], to path: String) throws {
        try HDF5File.write(to: path) { w in
            try write(model, optimizer: optimizer, into: w)
            try w.setAttribute("kind", .string("checkpoint"))
            try w.setAttribute("format_version", .int(formatVersion))
            if let architecture { try w.setAttribute("architecture", .string(architecture)) }
            for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { try w.setAttribute(k, v) }
        }
    }

    /// Writes a model's parameters and buffers (PyTorch names) and optionally its optimiser's state:
    /// the tensors of every checkpoint, in a file or a store artifact.
    public static func write(_ model: any Module, optimizer: (any Optimizer)?, into w: any HDF5Writing) throws {
        for p in model.parameters { try write(p.value, p.name, w) }
        for b in model.buffers {
            if b.name.hasSuffix("num_batches_tracked") {
                try w.writeInt64(b.name, [Int64(b.value.scalar)], shape: [])
            } else {
                try write(b.value, b.name, w)
            }
        }
        if let optimizer {
            for (name, t) in optimizer.state.sorted(by: { $0.key < $1.key }) { try write(t, "optimizer/" + name, w) }
        }
    }

    /// Loads parameters, buffers and (if given) optimiser state saved by `save`. Every tensor the model
    /// has must be present with its shape; the file's metadata attributes are returned.
    @discardableResult
    public static func load(into model: any Module, optimizer: (any Optimizer)? = nil, from path: String) throws -> [String: HDF5Attribute] {
        try HDF5File.read(from: path) { r in
            guard try r.attribute("kind")?.stringValue == "checkpoint" else {
                throw HDF5Error(file: path, message: "not an atalp checkpoint (attribute 'kind' is not \"checkpoint\")")
            }
            for p in model.parameters { p.value = try read(p.name, shape: p.value.shape, r, path) }
            for b in model.buffers {
                if b.name.hasSuffix("num_batches_tracked") {
                    guard r.contains(b.name) else { throw HDF5Error(file: path, message: "missing '\(b.name)'") }
                    b.value = Tensor(scalar: Float(try r.readInt64(b.name).first ?? 0))
                } else {
                    b.value = try read(b.name, shape: b.value.shape, r, path)
                }
            }
            if let optimizer {
                var state: [String: Tensor] = [:]
                for name in try r.datasetPaths() where name.hasPrefix("optimizer/") {
                    state[String(name.dropFirst("optimizer/".count))] = Tensor(shape: try r.shape(of: name), values: try r.readFloat32(name))
                }
                do { try optimizer.loadState(state) } catch { throw HDF5Error(file: path, message: "\(error)") }
            }
            var attributes: [String: HDF5Attribute] = [:]
            for name in try r.attributeNames() { attributes[name] = try r.attribute(name) }
            return attributes
        }
    }

    /// The root attributes of a checkpoint file (architecture, defense, seed, …) without loading tensors.
    public static func attributes(of path: String) throws -> [String: HDF5Attribute] {
        try HDF5File.read(from: path) { r in
            var attributes: [String: HDF5Attribute] = [:]
            for name in try r.attributeNames() { attributes[name] = try r.attribute(name) }
            return attributes
        }
    }

    private static func write(_ t: Tensor, _ name: String, _ w: any HDF5Writing) throws {
        try t.withUnsafeBufferPointer { try w.writeFloat32(name, $0, shape: t.shape) }
    }

    private static func read(_ name: String, shape: [Int], _ r: HDF5Reader, _ path: String) throws -> Tensor {
        guard r.contains(name) else { throw HDF5Error(file: path, message: "missing tensor '\(name)'") }
        let stored = try r.shape(of: name)
        guard stored == shape else {
            throw HDF5Error(file: path, message: "tensor '\(name)' has shape \(stored), the model expects \(shape)")
        }
        return try Tensor(shape: shape) { try r.readFloat32(name, into: $0) }
    }
}
