import CHDF5
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes datasets, groups and attributes into a file being created by `HDF5File.write`.
/// Valid only inside that closure; using it afterwards throws.
///
/// Groups in a dataset's path are created as needed. Datasets and groups carry no timestamps, so equal
/// content gives equal bytes. Shapes are row-major (C order), as NumPy and h5py expect.
public final class HDF5Writer {
    private var file: hid_t
    private let check: HDF5Check

    init(file: hid_t, check: HDF5Check) {
        self.file = file
        self.check = check
    }

    func invalidate() { file = -1 }

    /// The file being written.
    public var path: String { check.file }

    private func openFile() throws -> hid_t {
        guard file >= 0 else { throw check.fail("HDF5Writer used outside HDF5File.write") }
        return file
    }

    /// Creates the group at `path` and any missing parents. An existing group is fine.
    public func createGroup(_ path: String) throws {
        let parts = try HDF5Path.components(path, check: check)
        try ensureGroups(parts, count: parts.count)
    }

    public func write(_ path: String, float32 data: UnsafeBufferPointer<Float>, shape: [Int],
                      compression: HDF5Compression = .none) throws {
        try writeDataset(path, data: UnsafeRawBufferPointer(data), count: data.count, dtype: .float32,
                         shape: shape, compression: compression)
    }

    public func write(_ path: String, uint8 data: UnsafeBufferPointer<UInt8>, shape: [Int],
                      compression: HDF5Compression = .none) throws {
        try writeDataset(path, data: UnsafeRawBufferPointer(data), count: data.count, dtype: .uint8,
                         shape: shape, compression: compression)
    }

    public func write(_ path: String, int32 data: UnsafeBufferPointer<Int32>, shape: [Int],
                      compression: HDF5Compression = .none) throws {
        try writeDataset(path, data: UnsafeRawBufferPointer(data), count: data.count, dtype: .int32,
                         shape: shape, compression: compression)
    }

    public func write(_ path: String, int64 data: UnsafeBufferPointer<Int64>, shape: [Int],
                      compression: HDF5Compression = .none) throws {
        try writeDataset(path, data: UnsafeRawBufferPointer(data), count: data.count, dtype: .int64,
                         shape: shape, compression: compression)
    }

    public func write(_ path: String, float32 data: [Float], shape: [Int],
                      compression: HDF5Compression = .none) throws {
        try data.withUnsafeBufferPointer { try write(path, float32: $0, shape: shape, compression: compression) }
    }

    public func write(_ path: String, uint8 data: [UInt8], shape: [Int],
                      compression: HDF5Compression = .none) throws {
        try data.withUnsafeBufferPointer { try write(path, uint8: $0, shape: shape, compression: compression) }
    }

    public func write(_ path: String, int32 data: [Int32], shape: [Int],
                      compression: HDF5Compression = .none) throws {
        try data.withUnsafeBufferPointer { try write(path, int32: $0, shape: shape, compression: compression) }
    }

    public func write(_ path: String, int64 data: [Int64], shape: [Int],
                      compression: HDF5Compression = .none) throws {
        try data.withUnsafeBufferPointer { try write(path, int64: $0, shape: shape, compression: compression) }
    }

    /// Writes raw little-endian element bytes as a dataset of `dtype` (used to copy datasets).
    func write(_ path: String, raw data: UnsafeRawBufferPointer, dtype: HDF5DType, shape: [Int],
               compression: HDF5Compression = .none) throws {
        guard data.count % dtype.size == 0 else {
            throw check.fail("dataset '\(path)': \(data.count) bytes is not a whole number of \(dtype) elements")
        }
        try writeDataset(path, data: data, count: data.count / dtype.size, dtype: dtype, shape: shape,
                         compression: compression)
    }

    /// Sets (or replaces) attribute `name` on the group or dataset at `path` ("/" is the file's root).
    public func setAttribute(_ name: String, _ value: HDF5Attribute, on path: String = "/") throws {
        let file = try openFile()
        let target = try HDF5Path.normalized(path, check: check)
        guard !name.isEmpty, !name.utf8.contains(0) else { throw check.fail("invalid attribute name '\(name)'") }
        let object = try check.id(H5Oopen(file, target, shim_H5P_DEFAULT()), "cannot open '\(target)' to set attribute '\(name)'")
        defer { H5Oclose(object) }
        let exists = H5Aexists(object, name)
        try check.ok(exists < 0 ? -1 : 0, "cannot check attribute '\(name)' on '\(target)'")
        if exists > 0 {
            try check.ok(H5Adelete(object, name), "cannot replace attribute '\(name)' on '\(target)'")
        }
        let what = "attribute '\(name)' on '\(target)'"
        switch value {
        case .int(let v):
            try withUnsafePointer(to: v) { try writeAttribute(object, name, fileType: shim_H5T_STD_I64LE(), memoryType: shim_H5T_NATIVE_INT64(), count: nil, data: UnsafeRawPointer($0), what) }
        case .double(let v):
            try withUnsafePointer(to: v) { try writeAttribute(object, name, fileType: shim_H5T_IEEE_F64LE(), memoryType: shim_H5T_NATIVE_DOUBLE(), count: nil, data: UnsafeRawPointer($0), what) }
        case .ints(let v):
            try v.withUnsafeBytes { try writeAttribute(object, name, fileType: shim_H5T_STD_I64LE(), memoryType: shim_H5T_NATIVE_INT64(), count: v.count, data: $0.baseAddress, what) }
        case .doubles(let v):
            try v.withUnsafeBytes { try writeAttribute(object, name, fileType: shim_H5T_IEEE_F64LE(), memoryType: shim_H5T_NATIVE_DOUBLE(), count: v.count, data: $0.baseAddress, what) }
        case .string(let s):
            try writeStrings(object, name, [s], scalar: true, what)
        case .strings(let s):
            try writeStrings(object, name, s, scalar: false, what)
        }
    }

    /// Creates a group with no check on the name, for tests that build hostile files (names like "..").
    func createGroupUnchecked(_ name: String) throws {
        let file = try openFile()
        let group = try check.id(H5Gcreate2(file, name, shim_H5P_DEFAULT(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT()), "cannot create group '\(name)'")
        try check.ok(H5Gclose(group), "cannot close group '\(name)'")
    }

    // MARK: - Internals

    private func writeAttribute(_ object: hid_t, _ name: String, fileType: hid_t, memoryType: hid_t, count: Int?,
                                data: UnsafeRawPointer?, _ what: String) throws {
        let space = try makeAttributeSpace(count: count, what)
        defer { H5Sclose(space) }
        let attribute = try check.id(H5Acreate2(object, name, fileType, space, shim_H5P_DEFAULT(), shim_H5P_DEFAULT()), "cannot create \(what)")
        defer { H5Aclose(attribute) }
        if count != 0 {
            try check.ok(H5Awrite(attribute, memoryType, data), "cannot write \(what)")
        }
    }

    private func makeAttributeSpace(count: Int?, _ what: String) throws -> hid_t {
        guard let count else { return try check.id(H5Screate(H5S_SCALAR), "cannot create a dataspace for \(what)") }
        // Empty arrays get a zero-length simple dataspace (not H5S_NULL), which h5py reads as an empty
        // NumPy array rather than h5py.Empty, so `zip(attrs["input_roles"], attrs["input_ids"])` works.
        var dims = [hsize_t(count)]
        return try check.id(H5Screate_simple(1, &dims, nil), "cannot create a dataspace for \(what)")
    }

    /// Strings are variable-length UTF-8, which h5py returns as `str`.
    private func writeStrings(_ object: hid_t, _ name: String, _ strings: [String], scalar: Bool, _ what: String) throws {
        for s in strings where s.utf8.contains(0) {
            throw check.fail("\(what): strings must not contain NUL characters")
        }
        let type = try check.id(H5Tcopy(shim_H5T_C_S1()), "cannot create a string type for \(what)")
        defer { H5Tclose(type) }
        try check.ok(H5Tset_size(type, shim_H5T_VARIABLE()), "cannot make a variable-length string type")
        try check.ok(H5Tset_cset(type, H5T_CSET_UTF8), "cannot set UTF-8 on a string type")
        let space = try makeAttributeSpace(count: scalar ? nil : strings.count, what)
        defer { H5Sclose(space) }
        let attribute = try check.id(H5Acreate2(object, name, type, space, shim_H5P_DEFAULT(), shim_H5P_DEFAULT()), "cannot create \(what)")
        defer { H5Aclose(attribute) }
        guard !strings.isEmpty else { return }
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        try check.ok(H5Awrite(attribute, type, &pointers), "cannot write \(what)")
    }

    /// Creates the first `count` groups of `parts`, each with timestamps off.
    private func ensureGroups(_ parts: [Substring], count: Int) throws {
        let file = try openFile()
        guard count > 0 else { return }
        var prefix = ""
        for part in parts.prefix(count) {
            prefix = prefix.isEmpty ? String(part) : "\(prefix)/\(part)"
            let exists = H5Lexists(file, prefix, shim_H5P_DEFAULT())
            try check.ok(exists < 0 ? -1 : 0, "cannot look up '\(prefix)'")
            if exists > 0 {
                var info = H5O_info_t()
                try check.ok(H5Oget_info_by_name2(file, prefix, &info, shim_H5O_INFO_BASIC(), shim_H5P_DEFAULT()), "cannot inspect '\(prefix)'")
                guard info.type == H5O_TYPE_GROUP else { throw check.fail("'\(prefix)' exists and is not a group") }
                continue
            }
            let gcpl = try check.id(H5Pcreate(shim_H5P_GROUP_CREATE()), "cannot create a group-creation property list")
            defer { H5Pclose(gcpl) }
            try check.ok(H5Pset_obj_track_times(gcpl, false), "cannot turn off timestamps")
            let group = try check.id(H5Gcreate2(file, prefix, shim_H5P_DEFAULT(), gcpl, shim_H5P_DEFAULT()), "cannot create group '\(prefix)'")
            try check.ok(H5Gclose(group), "cannot close group '\(prefix)'")
        }
    }

    private func writeDataset(_ path: String, data: UnsafeRawBufferPointer, count: Int, dtype: HDF5DType,
                              shape: [Int], compression: HDF5Compression) throws {
        let file = try openFile()
        let parts = try HDF5Path.components(path, check: check)
        guard !parts.isEmpty else { throw check.fail("a dataset needs a name") }
        let name = parts.joined(separator: "/")
        guard shape.allSatisfy({ $0 >= 0 }) else { throw check.fail("dataset '\(name)': negative dimension in shape \(shape)") }
        let expected = shape.reduce(1, *)
        guard expected == count else {
            throw check.fail("dataset '\(name)': shape \(shape) needs \(expected) elements, got \(count)")
        }
        try ensureGroups(parts, count: parts.count - 1)
        let exists = H5Lexists(file, name, shim_H5P_DEFAULT())
        if exists > 0 { throw check.fail("dataset '\(name)' already exists") }

        var dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty
            ? try check.id(H5Screate(H5S_SCALAR), "cannot create a dataspace for '\(name)'")
            : try check.id(H5Screate_simple(Int32(dims.count), &dims, nil), "cannot create a dataspace for '\(name)'")
        defer { H5Sclose(space) }
        let dcpl = try check.id(H5Pcreate(shim_H5P_DATASET_CREATE()), "cannot create a dataset-creation property list")
        defer { H5Pclose(dcpl) }
        try check.ok(H5Pset_obj_track_times(dcpl, false), "cannot turn off timestamps")
        // Every element is written right after creation, so a fill pass would be wasted I/O.
        try check.ok(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "cannot set the fill time")
        if case .deflate(let level) = compression, !shape.isEmpty, count > 0 {
            var chunk = HDF5Compression.chunk(for: shape, elementSize: dtype.size).map { hsize_t($0) }
            try check.ok(H5Pset_chunk(dcpl, Int32(chunk.count), &chunk), "cannot set chunking on '\(name)'")
            try check.ok(H5Pset_shuffle(dcpl), "cannot set the shuffle filter on '\(name)'")
            try check.ok(H5Pset_deflate(dcpl, UInt32(min(max(level, 0), 9))), "cannot set deflate on '\(name)'")
        }
        let dataset = try check.id(H5Dcreate2(file, name, dtype.fileType, space, shim_H5P_DEFAULT(), dcpl, shim_H5P_DEFAULT()), "cannot create dataset '\(name)'")
        defer { H5Dclose(dataset) }
        if count > 0 {
            try check.ok(H5Dwrite(dataset, dtype.memoryType, shim_H5S_ALL(), shim_H5S_ALL(), shim_H5P_DEFAULT(), data.baseAddress),
                         "cannot write dataset '\(name)'")
        }
    }
}
