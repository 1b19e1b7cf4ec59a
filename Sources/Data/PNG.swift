import CPNG
import Foundation

/// PNG through libpng's simplified API (`png_image_*`), which returns errors instead of
/// longjmp-ing. Used for masks and segmentation trimaps: palette, gray, RGB, with or without alpha
/// (alpha is dropped), 8 or 16 bits (16-bit samples are scaled to 8 bits without gamma changes).
///
///     let trimap = try PNG.decode(contentsOf: "trimaps/image_0001.png")   // RGB or gray
public enum PNG {
    /// Decodes the PNG file at `path`.
    public static func decode(contentsOf path: String, color: ColorMode = .native) throws -> RawImage {
        try decode(FileReading.readFile(path), path: path, color: color)
    }

    /// Decodes PNG bytes; `path` names them in errors.
    public static func decode(_ bytes: [UInt8], path: String, color: ColorMode = .native) throws -> RawImage {
        guard ImageFormat.sniff(bytes) == .png else {
            throw DataError(.corrupt, path: path, bytes.isEmpty ? "empty file, not a PNG" : "not a PNG file (\(JPEG.describeStart(bytes)))")
        }
        var image = png_image()
        image.version = atalp_png_version()
        defer { png_image_free(&image) }
        let begun = bytes.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard begun != 0 else { throw DataError(.corrupt, path: path, "corrupt PNG: \(message(of: &image))") }
        let isColor = image.format & atalp_png_flag_color() != 0
        let channels: Int
        switch color {
        case .native: channels = isColor ? 3 : 1
        case .gray: channels = 1
        case .rgb: channels = 3
        }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width * height <= JPEG.maximumPixels else {
            throw DataError(.corrupt, path: path, "PNG size \(width)×\(height) is out of range")
        }
        // 16-bit files are read as "linear" 16-bit so libpng does no gamma conversion, then scaled.
        let sixteen = image.format & atalp_png_flag_linear() != 0
        image.format = (channels == 3 ? atalp_png_flag_color() : 0) | (sixteen ? atalp_png_flag_linear() : 0)
        let count = width * height * channels
        var pixels = [UInt8](repeating: 0, count: count)
        if sixteen {
            var wide = [UInt16](repeating: 0, count: count)
            let ok = wide.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw DataError(.corrupt, path: path, "corrupt PNG: \(message(of: &image))") }
            for i in 0..<count { pixels[i] = UInt8((UInt32(wide[i]) * 255 + 32767) / 65535) }
        } else {
            let ok = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw DataError(.corrupt, path: path, "corrupt PNG: \(message(of: &image))") }
        }
        return RawImage(pixels: pixels, width: width, height: height, channels: channels)
    }

    /// Encodes an 8-bit gray or RGB image. Tests use it to make trimap files.
    public static func encode(_ image: RawImage) throws -> [UInt8] {
        var png = png_image()
        png.version = atalp_png_version()
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = image.channels == 3 ? atalp_png_flag_color() : 0
        var size = 0
        let sized = image.pixels.withUnsafeBytes {
            png_image_write_to_memory(&png, nil, &size, 0, $0.baseAddress, 0, nil)
        }
        guard sized != 0 else { throw DataError(.invalidArgument, path: "<memory>", "PNG encoding failed: \(message(of: &png))") }
        var bytes = [UInt8](repeating: 0, count: size)
        let ok = bytes.withUnsafeMutableBytes { out in
            image.pixels.withUnsafeBytes { png_image_write_to_memory(&png, out.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard ok != 0 else { throw DataError(.invalidArgument, path: "<memory>", "PNG encoding failed: \(message(of: &png))") }
        return Array(bytes.prefix(size))
    }

    private static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
