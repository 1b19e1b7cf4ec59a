import Foundation
import Store
import Tensors

/// A PyTorch state dict — tensors by PyTorch's names (`layer1.0.conv1.weight`, `bn1.running_mean`,
/// `fc.bias`) — saved as `.safetensors` (`safetensors.torch.save_file(model.state_dict(), path)`) or
/// as HDF5 with one dataset per name (`h5py`: `f[name] = tensor.numpy()`), so that a model trained
/// elsewhere can be evaluated. atalp's ResNets use PyTorch's names and shapes (`Checkpoint`), so a
/// state dict of the same architecture loads as is. (`torch.save`'s pickle files are not read:
/// convert them with `safetensors.torch.save_file`.)
public enum StateDict {
    /// The tensors of a state dict file (safetensors or HDF5, told apart by the file's first bytes).
    public static func read(_ path: String) throws -> [String: Tensor] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw HDF5Error(file: path, message: "cannot open the file") }
        let magic = handle.readData(ofLength: 8)
        try? handle.close()
        guard magic == Foundation.Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) else { return try SafeTensors.read(path) }
        return try HDF5File.read(from: path) { r in
            var tensors: [String: Tensor] = [:]
            for name in try r.datasetPaths() {
                let shape = try r.shape(of: name)
                switch try r.dtype(of: name) {
                case .float32: tensors[name] = Tensor(shape: shape, values: try r.readFloat32(name))
                case .int64: tensors[name] = Tensor(shape: shape, values: try r.readInt64(name).map(Float.init))
                case .int32: tensors[name] = Tensor(shape: shape, values: try r.readInt32(name).map(Float.init))
                case .uint8: throw HDF5Error(file: path, message: "dataset '\(name)' is uint8; a state dict holds float32 and int64 tensors")
                }
            }
            return tensors
        }
    }

    /// Fills every parameter and buffer of `model` from `tensors`, strictly as PyTorch's
    /// `load_state_dict`: a missing name, a shape that differs or a name the model does not have is an
    /// error naming the file (`num_batches_tracked`, which PyTorch may omit, may be missing).
    public static func load(_ tensors: [String: Tensor], into model: any Module, file: String) throws {
        var unused = Set(tensors.keys)
        for p in model.parameters { p.value = try take(p.name, p.value.shape, tensors, file); unused.remove(p.name) }
        for b in model.buffers {
            if b.name.hasSuffix("num_batches_tracked") && tensors[b.name] == nil { continue }
            b.value = try take(b.name, b.value.shape, tensors, file)
            unused.remove(b.name)
        }
        if let extra = unused.sorted().first {
            throw HDF5Error(file: file, message: "tensor '\(extra)' belongs to no parameter or buffer of the network"
                            + (unused.count > 1 ? " (and \(unused.count - 1) more)" : "") + ": another architecture?")
        }
    }

    private static func take(_ name: String, _ shape: [Int], _ tensors: [String: Tensor], _ file: String) throws -> Tensor {
        guard let t = tensors[name] else { throw HDF5Error(file: file, message: "no tensor '\(name)': another architecture?") }
        guard t.shape == shape || (t.count == 1 && shape.reduce(1, *) == 1) else {
            throw HDF5Error(file: file, message: "tensor '\(name)' has shape \(t.shape), the network expects \(shape)")
        }
        return t.reshaped(shape)
    }
}
