import CHDF5

/// Entry points for reading and writing HDF5 files. Both are scoped: the writer or reader is valid only
/// inside the closure, and every HDF5 handle is closed before the call returns, on every path.
///
///     try HDF5File.write(to: "w.h5") { w in
///         try w.write("conv1.weight", float32: weights, shape: [64, 3, 7, 7])
///         try w.setAttribute("kind", .string("checkpoint"))
///     }
///     let w = try HDF5File.read(from: "w.h5") { try $0.readFloat32("conv1.weight") }
///
/// Files are plain HDF5 (1.8 object format, little-endian types, no timestamps): h5py and h5dump read
/// them, and the same content written twice gives the same bytes.
public enum HDF5File {
    /// Writes a new file at `path` atomically: a temp file beside it, fsync, rename. Overwrites nothing
    /// half-way: if `body` throws or the process dies, `path` is untouched (a killed process may leave
    /// a `.<name>.tmp-*` file beside it).
    public static func write(to path: String, _ body: (HDF5Writer) throws -> Void) throws {
        let directory = POSIX.directory(of: path)
        let temp = "\(directory)/.\(POSIX.basename(of: path)).tmp-\(POSIX.uniqueSuffix())"
        try writeUnpublished(at: temp, body)
        do {
            try POSIX.fsyncFile(temp)
            try POSIX.rename(temp, path)
            try POSIX.fsyncDirectory(directory)
        } catch {
            POSIX.unlinkIfPresent(temp)
            throw HDF5Error(file: path, message: "\(error)")
        }
    }

    /// Opens `path` read-only and runs `body` with a reader over it. The file is opened without
    /// HDF5's file lock (see docs/store.md, "Locks"): atalp's files are never changed in place, and
    /// a lock taken here would fail while another program (h5py in mode "r+") holds the file open.
    public static func read<T>(from path: String, _ body: (HDF5Reader) throws -> T) throws -> T {
        shim_silence_errors()
        let check = HDF5Check(file: path)
        let fapl = try check.id(H5Pcreate(shim_H5P_FILE_ACCESS()), "cannot create a file-access property list")
        defer { H5Pclose(fapl) }
        try check.ok(H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI), "cannot set the close degree")
        try check.ok(shim_disable_file_locking(fapl), "cannot turn off file locking")
        let file = H5Fopen(path, shim_H5F_ACC_RDONLY(), fapl)
        if file < 0 {
            if !POSIX.exists(path) { throw HDF5Error(file: path, message: "no such file") }
            throw HDF5Error.fromStack(file: path, "not a readable HDF5 file")
        }
        let reader = HDF5Reader(file: file, check: check)
        let result: T
        do {
            result = try body(reader)
        } catch {
            reader.invalidate()
            H5Fclose(file)
            throw error
        }
        reader.invalidate()
        // Under H5F_CLOSE_SEMI a handle still open inside the file makes this fail instead of
        // silently keeping the file open.
        try check.ok(H5Fclose(file), "cannot close the file")
        return result
    }

    /// Creates `path` (which must not exist), runs `body`, and closes the file, checking that nothing
    /// was left open. On any error the partial file is removed. Does not fsync or rename: callers
    /// that publish the file do that.
    static func writeUnpublished(at path: String, _ body: (HDF5Writer) throws -> Void) throws {
        shim_silence_errors()
        let check = HDF5Check(file: path)
        let file = try createFile(path, check: check)
        let writer = HDF5Writer(file: file, check: check)
        do {
            try body(writer)
        } catch {
            writer.invalidate()
            H5Fclose(file)
            POSIX.unlinkIfPresent(path)
            throw error
        }
        writer.invalidate()
        if H5Fclose(file) < 0 {
            let error = HDF5Error.fromStack(file: path, "cannot close the file (a handle was left open?)")
            POSIX.unlinkIfPresent(path)
            throw error
        }
    }

    private static func createFile(_ path: String, check: HDF5Check) throws -> hid_t {
        let fapl = try check.id(H5Pcreate(shim_H5P_FILE_ACCESS()), "cannot create a file-access property list")
        defer { H5Pclose(fapl) }
        try check.ok(H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI), "cannot set the close degree")
        // The 1.8 object format: readable by every HDF5 since 2008 (h5py included), and it stores
        // attributes over 64 KiB densely instead of failing.
        try check.ok(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18), "cannot set format bounds")
        let fcpl = try check.id(H5Pcreate(shim_H5P_FILE_CREATE()), "cannot create a file-creation property list")
        defer { H5Pclose(fcpl) }
        // No timestamps on the root group either: equal content, equal bytes.
        try check.ok(H5Pset_obj_track_times(fcpl, false), "cannot turn off timestamps")
        let file = H5Fcreate(path, shim_H5F_ACC_EXCL(), fcpl, fapl)
        if file < 0 {
            if POSIX.exists(path) { throw HDF5Error(file: path, message: "file already exists") }
            throw HDF5Error.fromStack(file: path, "cannot create the file")
        }
        return file
    }
}
