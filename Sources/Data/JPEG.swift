import CJPEG
import Foundation

/// JPEG through libjpeg-turbo: RGB, grayscale, CMYK/YCCK (read as Adobe-inverted, as Pillow) and progressive
/// files. libjpeg's fatal errors are caught in the C shim (`atalp_jpeg_decode` owns the `setjmp`),
/// so a corrupt file is a `DataError` naming it, never a crash.
///
///     let image = try JPEG.decode(contentsOf: "jpg/image_0001.jpg")            // full size, RGB
///     let small = try JPEG.decode(contentsOf: path, atLeast: (64, 64))          // DCT-scaled
///
/// Policy: libjpeg *warnings* (a truncated file — "Premature end of JPEG file" — or corrupt
/// entropy data) are errors too, because libjpeg fills what it cannot read with gray and a model
/// would train on that silently.
public enum JPEG {
    /// Files larger than this many pixels are refused before any allocation (a corrupt header can
    /// promise 65535×65535).
    public static let maximumPixels = 100_000_000

    /// What the header says, and how the image was decoded.
    public struct Info: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var progressive: Bool
        /// libjpeg's J_COLOR_SPACE of the file: 1 gray, 2 RGB, 3 YCbCr, 4 CMYK, 5 YCCK.
        public var colorSpace: Int
        /// The DCT scaling used: the decode is 1/`scaleDenominator` of full size (1, 2, 4 or 8).
        public var scaleDenominator: Int
    }

    /// Decodes the JPEG file at `path`. See `decode(_:path:atLeast:color:)`.
    public static func decode(contentsOf path: String, atLeast minimumSize: (width: Int, height: Int)? = nil,
                              color: ColorMode = .native) throws -> RawImage {
        try decodeWithInfo(FileReading.readFile(path), path: path, atLeast: minimumSize, color: color).image
    }

    /// Decodes JPEG bytes; `path` names them in errors. With `atLeast`, libjpeg's DCT scaling
    /// decodes at 1/2, 1/4 or 1/8 of full size — the smallest that is still at least that large
    /// in both dimensions — so shrinking by 2× or more costs a fraction of a full decode.
    public static func decode(_ bytes: [UInt8], path: String, atLeast minimumSize: (width: Int, height: Int)? = nil,
                              color: ColorMode = .native) throws -> RawImage {
        try decodeWithInfo(bytes, path: path, atLeast: minimumSize, color: color).image
    }

    /// Decodes and reports the header facts (colour space, progressive, the scaling used).
    public static func decodeWithInfo(_ bytes: [UInt8], path: String, atLeast minimumSize: (width: Int, height: Int)? = nil,
                                      color: ColorMode = .native) throws -> (image: RawImage, info: Info) {
        guard !bytes.isEmpty else { throw DataError(.corrupt, path: path, "empty file, not a JPEG") }
        guard ImageFormat.sniff(bytes) == .jpeg else {
            throw DataError(.corrupt, path: path, "not a JPEG file (\(describeStart(bytes)))")
        }
        var result = atalp_jpeg_result()
        let buffer = bytes.withUnsafeBufferPointer { input in
            atalp_jpeg_decode(input.baseAddress, UInt(input.count),
                              Int32(minimumSize?.width ?? 0), Int32(minimumSize?.height ?? 0),
                              color.rawValue, maximumPixels, &result)
        }
        let message = withUnsafeBytes(of: &result.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        guard let buffer else {
            throw DataError(.corrupt, path: path, "corrupt JPEG: \(message)")
        }
        defer { free(buffer) }
        guard result.warnings == 0 else {
            throw DataError(.corrupt, path: path, "damaged JPEG: \(message)")
        }
        let w = Int(result.out_width), h = Int(result.out_height), c = Int(result.out_components)
        // A truncated header can "succeed" with nonsense sizes: check before trusting them.
        guard w > 0, h > 0, c == 1 || c == 3 else {
            throw DataError(.corrupt, path: path, "corrupt JPEG: decoded to \(w)×\(h)×\(c)")
        }
        let pixels = [UInt8](UnsafeBufferPointer(start: buffer, count: w * h * c))
        let info = Info(width: Int(result.width), height: Int(result.height), progressive: result.progressive != 0,
                        colorSpace: Int(result.jpeg_color_space), scaleDenominator: Int(result.scale_denom))
        return (RawImage(pixels: pixels, width: w, height: h, channels: c), info)
    }

    /// Encodes `image` (1 channel gray or 3 RGB; 4 means CMYK stored Adobe-inverted, as Photoshop
    /// writes it). Tests and benchmarks use it to make real JPEG files.
    public static func encode(_ image: RawImage, quality: Int = 95, progressive: Bool = false,
                              chromaSubsampling: Bool = true) throws -> [UInt8] {
        precondition([1, 3, 4].contains(image.channels), "JPEG.encode: 1, 3 or 4 channels")
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: Int(ATALP_JPEG_MESSAGE_LENGTH))
        let buffer = image.pixels.withUnsafeBufferPointer { pixels in
            message.withUnsafeMutableBufferPointer { text in
                atalp_jpeg_encode(pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                                  Int32(quality), progressive ? 1 : 0, chromaSubsampling ? 1 : 0, &size, text.baseAddress)
            }
        }
        guard let buffer else {
            let text = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DataError(.invalidArgument, path: "<memory>", "JPEG encoding failed: \(text)")
        }
        defer { free(buffer) }
        return [UInt8](UnsafeBufferPointer(start: buffer, count: Int(size)))
    }

    static func describeStart(_ bytes: [UInt8]) -> String {
        let head = bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
        if let text = String(bytes: bytes.prefix(16), encoding: .utf8), text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0.isWhitespace || $0.isPunctuation) }) {
            return "starts with text \"\(text.prefix(16).trimmingCharacters(in: .whitespacesAndNewlines))\""
        }
        return "starts with bytes \(head)"
    }
}
