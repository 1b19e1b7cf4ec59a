import Foundation
import ZIPFoundation

/// NumPy's `.npz` — a zip (here through ZIPFoundation) of `.npy` files, one per array — for people
/// who attack or train with PyTorch: `np.load("set.npz")["images"]`. `atalp store export --format npz`
/// writes every dataset of an artifact (an adversarial set: `images`, `white_box_images`, `labels`,
/// `iterations`, …) under its HDF5 path, dtype and shape kept.
///
/// The `.npy` layout (NumPy's format 1.0): the magic `\x93NUMPY`, version 1.0, a little-endian
/// UInt16 header length, an ASCII dict `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
/// padded with spaces and a newline so that the data starts at a multiple of 64 bytes, then the data
/// in C order.
public enum NPZ {
    /// Writes every dataset of the HDF5 file at `hdf5` to the `.npz` file at `path` (replaced if present).
    /// Entries are stored uncompressed, dates fixed, so the same artifact gives the same bytes.
    public static func write(hdf5: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try? FileManager.default.removeItem(at: url)
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .create) } catch { throw StoreError.io("\(path): cannot create the .npz file: \(error)") }
        try HDF5File.read(from: hdf5) { r in
            for name in try r.datasetPaths().sorted() {
                let (dtype, shape, bytes) = try r.readRaw(name)
                let data = npy(dtype: dtype, shape: shape, bytes: bytes)
                try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(data.count),
                                     modificationDate: Date(timeIntervalSince1970: 315_532_800), compressionMethod: .none) { position, size in
                    data.subdata(in: Int(position)..<Int(position) + size)
                }
            }
        }
    }

    /// One array as a `.npy` file's bytes.
    static func npy(dtype: HDF5DType, shape: [Int], bytes: [UInt8]) -> Data {
        let descr = switch dtype {
        case .float32: "<f4"
        case .int32: "<i4"
        case .int64: "<i8"
        case .uint8: "|u1"
        }
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let unpadded = 10 + header.utf8.count + 1   // magic, version, length; the header; its newline
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: bytes)
        return data
    }
}
