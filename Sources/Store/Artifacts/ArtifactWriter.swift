import Foundation

/// Writes one artifact's datasets and attributes (inside `ArtifactStore.put`), hashing its logical
/// content as it goes, so the id is known the moment the file is complete.
///
/// The root attributes in `ArtifactMetadata.reservedAttributes` are the store's; setting them throws.
public final class ArtifactWriter {
    let hdf5: HDF5Writer
    let compression: HDF5Compression
    var content = ContentHash()

    init(hdf5: HDF5Writer, compression: HDF5Compression) {
        self.hdf5 = hdf5
        self.compression = compression
    }

    public func createGroup(_ path: String) throws {
        try hdf5.createGroup(path)
        let parts = try HDF5Path.components(path, check: HDF5Check(file: hdf5.path))
        noteGroups(parts, count: parts.count)
    }

    public func write(_ path: String, float32 data: UnsafeBufferPointer<Float>, shape: [Int]) throws {
        try writeRaw(path, UnsafeRawBufferPointer(data), dtype: .float32, shape: shape)
    }
    public func write(_ path: String, uint8 data: UnsafeBufferPointer<UInt8>, shape: [Int]) throws {
        try writeRaw(path, UnsafeRawBufferPointer(data), dtype: .uint8, shape: shape)
    }
    public func write(_ path: String, int32 data: UnsafeBufferPointer<Int32>, shape: [Int]) throws {
        try writeRaw(path, UnsafeRawBufferPointer(data), dtype: .int32, shape: shape)
    }
    public func write(_ path: String, int64 data: UnsafeBufferPointer<Int64>, shape: [Int]) throws {
        try writeRaw(path, UnsafeRawBufferPointer(data), dtype: .int64, shape: shape)
    }
    public func write(_ path: String, float32 data: [Float], shape: [Int]) throws {
        try data.withUnsafeBufferPointer { try write(path, float32: $0, shape: shape) }
    }
    public func write(_ path: String, uint8 data: [UInt8], shape: [Int]) throws {
        try data.withUnsafeBufferPointer { try write(path, uint8: $0, shape: shape) }
    }
    public func write(_ path: String, int32 data: [Int32], shape: [Int]) throws {
        try data.withUnsafeBufferPointer { try write(path, int32: $0, shape: shape) }
    }
    public func write(_ path: String, int64 data: [Int64], shape: [Int]) throws {
        try data.withUnsafeBufferPointer { try write(path, int64: $0, shape: shape) }
    }

    /// Sets an attribute on the root ("/"), a group or a dataset.
    public func setAttribute(_ name: String, _ value: HDF5Attribute, on path: String = "/") throws {
        let check = HDF5Check(file: hdf5.path)
        let target = try HDF5Path.normalized(path, check: check)
        if target == "/" && ArtifactMetadata.reservedAttributes.contains(name) {
            throw check.fail("root attribute '\(name)' is set by the store from the artifact's metadata")
        }
        try setAttributeUnchecked(name, value, on: target)
    }

    func setAttributeUnchecked(_ name: String, _ value: HDF5Attribute, on target: String) throws {
        try hdf5.setAttribute(name, value, on: target)
        content.attributes[target == "/" ? "" : target, default: [:]][name] = value
    }

    /// Hashes a large dataset on another thread while HDF5 copies it into the file, so a put costs
    /// about max(write, hash) instead of their sum where a second core is free.
    func writeRaw(_ path: String, _ data: UnsafeRawBufferPointer, dtype: HDF5DType, shape: [Int]) throws {
        let parts = try HDF5Path.components(path, check: HDF5Check(file: hdf5.path))
        let digest: [UInt8]
        if data.count >= 1 << 20 {
            final class Job: @unchecked Sendable {   // the buffer outlives the job: we wait below
                let data: UnsafeRawBufferPointer
                var digest: [UInt8] = []
                init(_ data: UnsafeRawBufferPointer) { self.data = data }
            }
            let job = Job(data)
            let group = DispatchGroup()
            DispatchQueue.global().async(group: group) { job.digest = ContentHash.digest(job.data) }
            defer { group.wait() }   // on every path: the caller's buffer must stay valid until the hash is done
            try hdf5.write(path, raw: data, dtype: dtype, shape: shape, compression: compression)
            group.wait()
            digest = job.digest
        } else {
            try hdf5.write(path, raw: data, dtype: dtype, shape: shape, compression: compression)
            digest = ContentHash.digest(data)
        }
        noteGroups(parts, count: parts.count - 1)
        content.datasets[parts.joined(separator: "/")] = .init(dtype: dtype, shape: shape, digest: digest)
    }

    private func noteGroups(_ parts: [Substring], count: Int) {
        guard count > 0 else { return }
        for n in 1...count { content.groups.insert(parts.prefix(n).joined(separator: "/")) }
    }
}
