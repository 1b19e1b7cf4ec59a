import CPNG
import Foundation
import Tensors

/// An 8-bit RGB raster for figures, written as PNG through libpng's simplified API
/// (`png_image_write_*`, which reports errors instead of longjmp-ing).
public struct RGBImage: Sendable {
    public let width: Int
    public let height: Int
    /// Row-major, 3 bytes a pixel.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]? = nil) {
        precondition(width > 0 && height > 0, "an image of \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels ?? [UInt8](repeating: 255, count: width * height * 3)
        precondition(self.pixels.count == width * height * 3, "\(self.pixels.count) bytes for \(width)×\(height) RGB")
    }

    /// An input image (C×H×W with C = 1 or 3, values in [0, 1], or 1×C×H×W) enlarged `scale` times
    /// by pixel replication, so that small images stay crisp.
    public init(image: Tensor, scale: Int = 1) {
        let t = image.rank == 4 ? image.reshaped(Array(image.shape.dropFirst())) : image
        precondition(t.rank == 3 && (t.shape[0] == 1 || t.shape[0] == 3), "an image is C×H×W with 1 or 3 channels, got \(image.shape)")
        let (c, h, w) = (t.shape[0], t.shape[1], t.shape[2])
        self.init(width: w * scale, height: h * scale)
        let values = t.scalars
        for y in 0..<(h * scale) {
            for x in 0..<(w * scale) {
                for k in 0..<3 {
                    let v = values[((c == 1 ? 0 : k) * h + y / scale) * w + x / scale]
                    pixels[(y * width + x) * 3 + k] = UInt8((min(max(v, 0), 1) * 255).rounded())
                }
            }
        }
    }

    /// A map (H×W) scaled to [0, 1] by its own minimum and maximum (a constant map is drawn at 0),
    /// resized bilinearly to `size`×`size` pixels and coloured with `colorMap`.
    public init(map: Tensor, size: Int, colorMap: ColorMap = .viridis) {
        precondition(map.rank == 2, "a map is H×W, got \(map.shape)")
        let (h, w) = (map.shape[0], map.shape[1])
        let values = map.scalars
        let lo = values.min() ?? 0, hi = values.max() ?? 0
        let range = hi > lo ? hi - lo : 1
        self.init(width: size, height: size)
        for y in 0..<size {
            // Pixel centres mapped onto the map's cell centres (align_corners = false).
            let fy = min(max((Float(y) + 0.5) * Float(h) / Float(size) - 0.5, 0), Float(h - 1))
            let y0 = Int(fy), y1 = min(y0 + 1, h - 1), ty = fy - Float(y0)
            for x in 0..<size {
                let fx = min(max((Float(x) + 0.5) * Float(w) / Float(size) - 0.5, 0), Float(w - 1))
                let x0 = Int(fx), x1 = min(x0 + 1, w - 1), tx = fx - Float(x0)
                let top = values[y0 * w + x0] * (1 - tx) + values[y0 * w + x1] * tx
                let bottom = values[y1 * w + x0] * (1 - tx) + values[y1 * w + x1] * tx
                let rgb = colorMap.color((top * (1 - ty) + bottom * ty - lo) / range)
                pixels[(y * size + x) * 3] = rgb.0
                pixels[(y * size + x) * 3 + 1] = rgb.1
                pixels[(y * size + x) * 3 + 2] = rgb.2
            }
        }
    }

    /// The PNG file's bytes.
    public func pngData() throws -> [UInt8] {
        var png = png_image()
        png.version = atalp_png_version()
        png.width = UInt32(width)
        png.height = UInt32(height)
        png.format = atalp_png_flag_color()
        var size = 0
        let sized = pixels.withUnsafeBytes { png_image_write_to_memory(&png, nil, &size, 0, $0.baseAddress, 0, nil) }
        guard sized != 0 else { throw AnalysisError(path: "<memory>", "PNG encoding failed: \(Self.message(of: &png))") }
        var bytes = [UInt8](repeating: 0, count: size)
        let ok = bytes.withUnsafeMutableBytes { out in
            pixels.withUnsafeBytes { png_image_write_to_memory(&png, out.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard ok != 0 else { throw AnalysisError(path: "<memory>", "PNG encoding failed: \(Self.message(of: &png))") }
        return Array(bytes.prefix(size))
    }

    /// Writes the image as a PNG file at `path`.
    public func writePNG(to path: String) throws {
        do { try Data(try pngData()).write(to: URL(fileURLWithPath: path), options: .atomic) } catch let e as AnalysisError {
            throw AnalysisError(path: path, e.message)
        } catch {
            throw AnalysisError(path: path, "cannot write: \(error.localizedDescription)")
        }
    }

    private static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
