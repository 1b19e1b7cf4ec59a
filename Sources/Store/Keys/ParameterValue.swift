/// A stage parameter: the values a pipeline file can hold. Its canonical JSON (`canonicalJSON`) is
/// what goes into stage keys and artifacts' `params` attribute: object keys sorted by their UTF-8
/// bytes, no whitespace, integers in decimal, doubles in Swift's shortest round-trip form (always with
/// a "." or exponent, so `1` and `1.0` stay different values and different keys), strings with JSON
/// escapes. The same value always gives the same text, on every machine.
public indirect enum ParameterValue: Hashable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([ParameterValue])
    case object([String: ParameterValue])

    public var description: String { canonicalJSON }

    /// The canonical JSON text. Non-finite doubles (which JSON cannot hold) render as the strings
    /// "nan", "inf" and "-inf" inside an object {"f64": ...}, so they still key deterministically.
    public var canonicalJSON: String {
        var out = ""
        render(into: &out)
        return out
    }

    func render(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += #"{"f64":"nan"}"# }
            else if d.isInfinite { out += d > 0 ? #"{"f64":"inf"}"# : #"{"f64":"-inf"}"# }
            else {
                var text = "\(d)"   // shortest round-trip: "0.1", "1e-300", "1.0"
                if !text.contains(".") && !text.contains("e") { text += ".0" }
                out += text
            }
        case .string(let s): Self.renderString(s, into: &out)
        case .array(let values):
            out += "["
            for (i, v) in values.enumerated() {
                if i > 0 { out += "," }
                v.render(into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, key) in fields.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }).enumerated() {
                if i > 0 { out += "," }
                Self.renderString(key, into: &out)
                out += ":"
                fields[key]!.render(into: &out)
            }
            out += "}"
        }
    }

    static func renderString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension ParameterValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: ParameterValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, ParameterValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
