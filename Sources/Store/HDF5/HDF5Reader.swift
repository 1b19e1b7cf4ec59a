import CHDF5
#if canImport(Glibc)
import Glibc
#endif

/// Reads datasets and attributes from a file opened by `HDF5File.read`. Valid only inside that closure.
///
/// Reads check the stored dtype: `readFloat32` on an int64 dataset throws instead of converting.
public final class HDF5Reader {
    private var file: hid_t
    private let check: HDF5Check

    init(file: hid_t, check: HDF5Check) {
        self.file = file
        self.check = check
    }

    func invalidate() { file = -1 }

    /// The file being read.
    public var path: String { check.file }

    private func openFile() throws -> hid_t {
        guard file >= 0 else { throw check.fail("HDF5Reader used outside HDF5File.read") }
        return file
    }

    /// Every dataset, recursively, sorted, without leading "/": ["fc.bias", "fc.weight", "group/x"].
    public func datasetPaths() throws -> [String] {
        try objects().filter { $0.isDataset }.map(\.path)
    }

    /// Every group (the root excluded) and dataset, sorted by path.
    func objects() throws -> [(path: String, isDataset: Bool)] {
        let file = try openFile()
        final class Collector { var items: [(path: String, isDataset: Bool)] = [] }
        let collector = Collector()
        let status = H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, { _, name, info, data in
            guard let name, let info, let data else { return -1 }
            let path = String(cString: name)
            if path == "." { return 0 }
            let collector = Unmanaged<Collector>.fromOpaque(data).takeUnretainedValue()
            switch info.pointee.type {
            case H5O_TYPE_DATASET: collector.items.append((path, true))
            case H5O_TYPE_GROUP: collector.items.append((path, false))
            default: break
            }
            return 0
        }, Unmanaged.passUnretained(collector).toOpaque(), shim_H5O_INFO_BASIC())
        try check.ok(status, "cannot list the file's objects")
        return collector.items.sorted { $0.path < $1.path }
    }

    /// Whether a group or dataset exists at `path` ("/" always does).
    public func contains(_ path: String) -> Bool {
        guard let file = try? openFile(), let parts = try? HDF5Path.components(path, check: check) else { return false }
        var prefix = ""
        for part in parts {
            prefix = prefix.isEmpty ? String(part) : "\(prefix)/\(part)"
            if H5Lexists(file, prefix, shim_H5P_DEFAULT()) <= 0 { return false }
        }
        if parts.isEmpty { return true }
        return H5Oexists_by_name(file, prefix, shim_H5P_DEFAULT()) > 0
    }

    /// The dataset's shape, row-major; [] for a scalar.
    public func shape(of path: String) throws -> [Int] {
        try withDataset(path) { dataset, name in try shape(dataset, name) }
    }

    /// The dataset's element type; throws for types atalp does not read (float64, int16, strings...).
    public func dtype(of path: String) throws -> HDF5DType {
        try withDataset(path) { dataset, name in try dtype(dataset, name) }
    }

    public func readFloat32(_ path: String) throws -> [Float] { try readArray(path, Float.self) }
    public func readUInt8(_ path: String) throws -> [UInt8] { try readArray(path, UInt8.self) }
    public func readInt32(_ path: String) throws -> [Int32] { try readArray(path, Int32.self) }
    public func readInt64(_ path: String) throws -> [Int64] { try readArray(path, Int64.self) }

    /// Reads the dataset into `buffer`, whose count must equal the dataset's element count.
    public func readFloat32(_ path: String, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try readInto(path, UnsafeMutableRawBufferPointer(buffer), count: buffer.count, dtype: .float32)
    }
    public func readUInt8(_ path: String, into buffer: UnsafeMutableBufferPointer<UInt8>) throws {
        try readInto(path, UnsafeMutableRawBufferPointer(buffer), count: buffer.count, dtype: .uint8)
    }
    public func readInt32(_ path: String, into buffer: UnsafeMutableBufferPointer<Int32>) throws {
        try readInto(path, UnsafeMutableRawBufferPointer(buffer), count: buffer.count, dtype: .int32)
    }
    public func readInt64(_ path: String, into buffer: UnsafeMutableBufferPointer<Int64>) throws {
        try readInto(path, UnsafeMutableRawBufferPointer(buffer), count: buffer.count, dtype: .int64)
    }

    /// Reads a dataset of any supported dtype as raw little-endian bytes, with its dtype and shape.
    func readRaw(_ path: String) throws -> (dtype: HDF5DType, shape: [Int], bytes: [UInt8]) {
        try withDataset(path) { dataset, name in
            let dtype = try dtype(dataset, name)
            let shape = try shape(dataset, name)
            let byteCount = shape.reduce(1, *) * dtype.size
            let bytes = try [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
                Self.adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
                if byteCount > 0 {
                    try check.ok(H5Dread(dataset, dtype.memoryType, shim_H5S_ALL(), shim_H5S_ALL(), shim_H5P_DEFAULT(), buffer.baseAddress),
                                 "cannot read dataset '\(name)'")
                }
                initialized = byteCount
            }
            return (dtype, shape, bytes)
        }
    }

    /// The attribute `name` on the group or dataset at `path`, or nil when it has none by that name.
    public func attribute(_ name: String, on path: String = "/") throws -> HDF5Attribute? {
        try withObject(path) { object, target in
            let exists = H5Aexists(object, name)
            try check.ok(exists < 0 ? -1 : 0, "cannot look up attribute '\(name)' on '\(target)'")
            guard exists > 0 else { return nil }
            let what = "attribute '\(name)' on '\(target)'"
            let attribute = try check.id(H5Aopen(object, name, shim_H5P_DEFAULT()), "cannot open \(what)")
            defer { H5Aclose(attribute) }
            return try readAttribute(attribute, what)
        }
    }

    /// Whether the root group has an attribute called `name`.
    func attributeExists(_ name: String) -> Bool {
        guard let file = try? openFile() else { return false }
        return H5Aexists_by_name(file, "/", name, shim_H5P_DEFAULT()) > 0
    }

    /// The names of the attributes on the group or dataset at `path`, sorted.
    public func attributeNames(on path: String = "/") throws -> [String] {
        try withObject(path) { object, target in
            final class Collector { var names: [String] = [] }
            let collector = Collector()
            var index: hsize_t = 0
            let status = H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, data in
                guard let name, let data else { return -1 }
                Unmanaged<Collector>.fromOpaque(data).takeUnretainedValue().names.append(String(cString: name))
                return 0
            }, Unmanaged.passUnretained(collector).toOpaque())
            try check.ok(status, "cannot list the attributes of '\(target)'")
            return collector.names.sorted()
        }
    }

    // MARK: - Internals

    private func withObject<T>(_ path: String, _ body: (hid_t, String) throws -> T) throws -> T {
        let file = try openFile()
        let target = try HDF5Path.normalized(path, check: check)
        if target != "/" && !contains(target) { throw check.fail("no group or dataset '\(target)'") }
        let object = try check.id(H5Oopen(file, target, shim_H5P_DEFAULT()), "cannot open '\(target)'")
        defer { H5Oclose(object) }
        return try body(object, target)
    }

    private func withDataset<T>(_ path: String, _ body: (hid_t, String) throws -> T) throws -> T {
        let file = try openFile()
        let name = try HDF5Path.normalized(path, check: check)
        guard name != "/", contains(name) else { throw check.fail("no dataset '\(name)'") }
        let dataset = try check.id(H5Dopen2(file, name, shim_H5P_DEFAULT()), "cannot open dataset '\(name)'")
        defer { H5Dclose(dataset) }
        return try body(dataset, name)
    }

    private func shape(_ dataset: hid_t, _ name: String) throws -> [Int] {
        let space = try check.id(H5Dget_space(dataset), "cannot get the dataspace of '\(name)'")
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        try check.ok(rank < 0 ? -1 : 0, "cannot get the rank of '\(name)'")
        guard rank > 0 else { return [] }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        try check.ok(H5Sget_simple_extent_dims(space, &dims, nil) < 0 ? -1 : 0, "cannot get the shape of '\(name)'")
        return dims.map { Int($0) }
    }

    private func dtype(_ dataset: hid_t, _ name: String) throws -> HDF5DType {
        let type = try check.id(H5Dget_type(dataset), "cannot get the type of '\(name)'")
        defer { H5Tclose(type) }
        guard let dtype = HDF5DType.of(type: type) else {
            throw check.fail("dataset '\(name)' has an unsupported element type (\(Self.describe(type)))")
        }
        return dtype
    }

    private func readArray<T: HDF5Element>(_ path: String, _: T.Type) throws -> [T] {
        try withDataset(path) { dataset, name in
            let stored = try dtype(dataset, name)
            guard stored == T.hdf5DType else { throw check.fail("dataset '\(name)' is \(stored), not \(T.hdf5DType)") }
            let count = try shape(dataset, name).reduce(1, *)
            return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                Self.adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
                if count > 0 {
                    try check.ok(H5Dread(dataset, stored.memoryType, shim_H5S_ALL(), shim_H5S_ALL(), shim_H5P_DEFAULT(), buffer.baseAddress),
                                 "cannot read dataset '\(name)'")
                }
                initialized = count
            }
        }
    }

    private func readInto(_ path: String, _ buffer: UnsafeMutableRawBufferPointer, count: Int, dtype wanted: HDF5DType) throws {
        try withDataset(path) { dataset, name in
            let stored = try dtype(dataset, name)
            guard stored == wanted else { throw check.fail("dataset '\(name)' is \(stored), not \(wanted)") }
            let shape = try shape(dataset, name)
            let expected = shape.reduce(1, *)
            guard expected == count else {
                throw check.fail("dataset '\(name)' has \(expected) elements (shape \(shape)), the buffer holds \(count)")
            }
            if count > 0 {
                try check.ok(H5Dread(dataset, stored.memoryType, shim_H5S_ALL(), shim_H5S_ALL(), shim_H5P_DEFAULT(), buffer.baseAddress),
                             "cannot read dataset '\(name)'")
            }
        }
    }

    private func readAttribute(_ attribute: hid_t, _ what: String) throws -> HDF5Attribute {
        let type = try check.id(H5Aget_type(attribute), "cannot get the type of \(what)")
        defer { H5Tclose(type) }
        let space = try check.id(H5Aget_space(attribute), "cannot get the dataspace of \(what)")
        defer { H5Sclose(space) }
        let spaceClass = H5Sget_simple_extent_type(space)
        let scalar = spaceClass == H5S_SCALAR
        let count = spaceClass == H5S_NULL ? 0 : Int(H5Sget_simple_extent_npoints(space))
        guard count >= 0 else { throw check.fail("cannot count the elements of \(what)") }

        switch H5Tget_class(type) {
        case H5T_INTEGER:
            var values = [Int64](repeating: 0, count: count)
            if count > 0 { try check.ok(H5Aread(attribute, shim_H5T_NATIVE_INT64(), &values), "cannot read \(what)") }
            return scalar ? .int(values[0]) : .ints(values)
        case H5T_FLOAT:
            var values = [Double](repeating: 0, count: count)
            if count > 0 { try check.ok(H5Aread(attribute, shim_H5T_NATIVE_DOUBLE(), &values), "cannot read \(what)") }
            return scalar ? .double(values[0]) : .doubles(values)
        case H5T_STRING:
            let strings = try readStrings(attribute, type: type, space: space, count: count, what)
            return scalar ? .string(strings[0]) : .strings(strings)
        default:
            throw check.fail("\(what) has an unsupported type (\(Self.describe(type)))")
        }
    }

    private func readStrings(_ attribute: hid_t, type: hid_t, space: hid_t, count: Int, _ what: String) throws -> [String] {
        guard count > 0 else { return [] }
        let variable = H5Tis_variable_str(type)
        try check.ok(variable < 0 ? -1 : 0, "cannot inspect the string type of \(what)")
        let memoryType = try check.id(H5Tcopy(shim_H5T_C_S1()), "cannot create a string type")
        defer { H5Tclose(memoryType) }
        if variable > 0 {
            try check.ok(H5Tset_size(memoryType, shim_H5T_VARIABLE()), "cannot make a variable-length string type")
            try check.ok(H5Tset_cset(memoryType, H5Tget_cset(type)), "cannot set a string type's character set")
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try check.ok(H5Aread(attribute, memoryType, &pointers), "cannot read \(what)")
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            _ = shim_vlen_reclaim(memoryType, space, &pointers)
            return strings
        }
        let size = H5Tget_size(type)
        guard size > 0 else { throw check.fail("\(what) has a zero-length string type") }
        try check.ok(H5Tset_size(memoryType, size), "cannot size a string type")
        try check.ok(H5Tset_strpad(memoryType, H5T_STR_NULLPAD), "cannot set string padding")
        var bytes = [UInt8](repeating: 0, count: size * count)
        try check.ok(H5Aread(attribute, memoryType, &bytes), "cannot read \(what)")
        return (0..<count).map { index in
            let slice = bytes[(index * size)..<((index + 1) * size)]
            let trimmed = slice.prefix { $0 != 0 }
            return String(decoding: trimmed, as: UTF8.self).trimmingSpaces()
        }
    }

    /// Asks Linux to back a large, not yet touched buffer with transparent huge pages (where THP is
    /// in "madvise" mode, the common default): one fault per 2 MiB instead of per 4 KiB, which makes
    /// reading a 47 MB dataset into a fresh array ~2× faster. NumPy does the same for its arrays.
    static func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
        #if os(Linux)
        let huge = 2 << 20
        guard buffer.count >= 2 * huge, let base = buffer.baseAddress else { return }
        let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
        let end = (Int(bitPattern: base) + buffer.count) & ~(huge - 1)
        if end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) {
            _ = madvise(pointer, end - start, MADV_HUGEPAGE)
        }
        #endif
    }

    private static func describe(_ type: hid_t) -> String {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_INTEGER: return "\(H5Tget_sign(type) == H5T_SGN_2 ? "signed" : "unsigned") \(size * 8)-bit integer"
        case H5T_FLOAT: return "\(size * 8)-bit float"
        case H5T_STRING: return "string"
        case H5T_COMPOUND: return "compound"
        case H5T_ENUM: return "enum"
        default: return "HDF5 type class \(H5Tget_class(type).rawValue)"
        }
    }
}

private extension String {
    /// Fixed-length strings written with space padding (Fortran style) lose the padding.
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
