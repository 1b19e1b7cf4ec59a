import CPNG
import Foundation

/// PNG through libpng. Decoding gives the pixels Pillow's `Image.open(f).convert("RGB")` gives (or
/// gray for gray files), for every colour type, bit depth and interlacing: palettes looked up,
/// 1/2/4-bit gray scaled up by bit replication, 16-bit samples cut to their high byte, alpha and
/// tRNS transparency dropped (not composited onto a background), no gamma or ICC conversion.
/// One deliberate difference: a 16-bit *gray* file, which Pillow clips to 0…255 (nearly all white),
/// is cut to its high byte like every other 16-bit file (docs/data.md). libpng's fatal errors are
/// caught in the C shim (`atalp_png_decode` owns the `setjmp`), so a damaged file is a
/// `DataError` naming it.
///
///     let trimap = try PNG.decode(contentsOf: "trimaps/image_0001.png")   // RGB or gray
public enum PNG {
    /// Decodes the PNG file at `path`.
    public static func decode(contentsOf path: String, color: ColorMode = .native) throws -> RawImage {
        try decode(FileReading.readFile(path), path: path, color: color)
    }

    /// Decodes PNG bytes; `path` names them in errors. `.gray` turns colour into luma as Pillow's
    /// `convert("L")` does; `.rgb` replicates gray.
    public static func decode(_ bytes: [UInt8], path: String, color: ColorMode = .native) throws -> RawImage {
        guard ImageFormat.sniff(bytes) == .png else {
            throw DataError(.corrupt, path: path, bytes.isEmpty ? "empty file, not a PNG" : "not a PNG file (\(JPEG.describeStart(bytes)))")
        }
        var result = atalp_png_result()
        let buffer = bytes.withUnsafeBufferPointer { input in
            atalp_png_decode(input.baseAddress, input.count, JPEG.maximumPixels, &result)
        }
        guard let buffer else {
            let message = withUnsafeBytes(of: &result.message) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw DataError(.corrupt, path: path, "corrupt PNG: \(message)")
        }
        defer { free(buffer) }
        let width = Int(result.width), height = Int(result.height), channels = Int(result.channels)
        let image = RawImage(pixels: [UInt8](UnsafeBufferPointer(start: buffer, count: width * height * channels)),
                             width: width, height: height, channels: channels)
        switch (color, channels) {
        case (.gray, 3): return Preprocessing.convert(image, channels: 1)
        case (.rgb, 1): return Preprocessing.convert(image, channels: 3)
        default: return image
        }
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
