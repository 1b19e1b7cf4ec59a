import CHDF5

/// The element types an atalp artifact's datasets may have. On disk they are always little-endian
/// (`<f4`, `|u1`, `<i4`, `<i8` in NumPy's notation).
public enum HDF5DType: String, Sendable, CaseIterable {
    case float32, uint8, int32, int64

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32, .int32: 4
        case .uint8: 1
        case .int64: 8
        }
    }

    /// The HDF5 type used in files (explicit little-endian).
    var fileType: hid_t {
        switch self {
        case .float32: shim_H5T_IEEE_F32LE()
        case .uint8: shim_H5T_STD_U8LE()
        case .int32: shim_H5T_STD_I32LE()
        case .int64: shim_H5T_STD_I64LE()
        }
    }

    /// The HDF5 type of the same values in this machine's memory.
    var memoryType: hid_t {
        switch self {
        case .float32: shim_H5T_NATIVE_FLOAT()
        case .uint8: shim_H5T_NATIVE_UINT8()
        case .int32: shim_H5T_NATIVE_INT32()
        case .int64: shim_H5T_NATIVE_INT64()
        }
    }

    /// The dtype of an HDF5 datatype, or nil when atalp does not read that type
    /// (float64, int16, strings, compounds, ...).
    static func of(type: hid_t) -> HDF5DType? {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            return size == 4 ? .float32 : nil
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, false): return .uint8
            case (4, true): return .int32
            case (8, true): return .int64
            default: return nil
            }
        default:
            return nil
        }
    }
}

/// Swift element types that map to an `HDF5DType`.
public protocol HDF5Element: Sendable {
    static var hdf5DType: HDF5DType { get }
}

extension Float: HDF5Element { public static var hdf5DType: HDF5DType { .float32 } }
extension UInt8: HDF5Element { public static var hdf5DType: HDF5DType { .uint8 } }
extension Int32: HDF5Element { public static var hdf5DType: HDF5DType { .int32 } }
extension Int64: HDF5Element { public static var hdf5DType: HDF5DType { .int64 } }
