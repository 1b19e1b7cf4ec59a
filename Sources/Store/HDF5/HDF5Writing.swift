/// Where a model's tensors and attributes go: a plain HDF5 file (`HDF5Writer`) or a store artifact
/// (`ArtifactWriter`, which also hashes what it writes). One checkpoint writer serves both, so a
/// checkpoint of `atalp train` and one of the pipeline's train stage have one layout.
public protocol HDF5Writing: AnyObject {
    func writeFloat32(_ path: String, _ data: UnsafeBufferPointer<Float>, shape: [Int]) throws
    func writeInt64(_ path: String, _ data: [Int64], shape: [Int]) throws
    /// Sets an attribute on the root group.
    func setRootAttribute(_ name: String, _ value: HDF5Attribute) throws
}

extension HDF5Writer: HDF5Writing {
    public func writeFloat32(_ path: String, _ data: UnsafeBufferPointer<Float>, shape: [Int]) throws { try write(path, float32: data, shape: shape) }
    public func writeInt64(_ path: String, _ data: [Int64], shape: [Int]) throws { try write(path, int64: data, shape: shape) }
    public func setRootAttribute(_ name: String, _ value: HDF5Attribute) throws { try setAttribute(name, value) }
}

extension ArtifactWriter: HDF5Writing {
    public func writeFloat32(_ path: String, _ data: UnsafeBufferPointer<Float>, shape: [Int]) throws { try write(path, float32: data, shape: shape) }
    public func writeInt64(_ path: String, _ data: [Int64], shape: [Int]) throws { try write(path, int64: data, shape: shape) }
    public func setRootAttribute(_ name: String, _ value: HDF5Attribute) throws { try setAttribute(name, value) }
}
