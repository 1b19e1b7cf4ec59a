/// The value of an HDF5 attribute as atalp writes and reads it.
///
/// On disk: `.string` is a scalar variable-length UTF-8 string, `.int` a scalar `<i8`, `.double` a
/// scalar `<f8`, and the plural cases one-dimensional arrays of the same types (possibly of length 0). h5py reads them as `str`, `numpy.int64`, `numpy.float64` and NumPy arrays.
/// Reading also accepts fixed-length strings and other integer or float widths written by other tools.
public enum HDF5Attribute: Equatable, Sendable {
    case string(String)
    case int(Int64)
    case double(Double)
    case ints([Int64])
    case doubles([Double])
    case strings([String])

    /// The string value, when this is `.string`.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer value, when this is `.int`.
    public var intValue: Int64? {
        if case .int(let v) = self { return v }
        return nil
    }

    /// The floating-point value, when this is `.double` (or `.int`, converted).
    public var doubleValue: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }

    /// The strings, when this is `.strings` (or a single `.string`).
    public var stringsValue: [String]? {
        switch self {
        case .strings(let s): return s
        case .string(let s): return [s]
        default: return nil
        }
    }
}
