import CJPEG
import Foundation
@testable import Data

/// Test images and an independent JPEG decode for comparison.
enum TestImages {
    /// A photo-like RGB image: smooth gradients, a disc, some texture; `seed` varies it.
    static func photo(width: Int, height: Int, seed: Int = 0) -> RawImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let cx = Double(width) * (0.3 + 0.05 * Double(seed % 5)), cy = Double(height) * 0.5
        let r = Double(min(width, height)) * 0.3
        for y in 0..<height {
            for x in 0..<width {
                let fx = Double(x) / Double(width), fy = Double(y) / Double(height)
                var red = 60 + 120 * fx, green = 40 + 150 * fy, blue = 90 + 60 * sin(fx * 6 + Double(seed))
                let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                if d < r { red = 220 - 40 * d / r; green = 180 - 100 * d / r; blue = 40 }
                let texture = 12 * sin(Double(x) * 0.7) * cos(Double(y) * 0.5)
                let i = (y * width + x) * 3
                pixels[i] = clamp(red + texture); pixels[i + 1] = clamp(green + texture); pixels[i + 2] = clamp(blue - texture)
            }
        }
        return RawImage(pixels: pixels, width: width, height: height, channels: 3)
    }

    static func clamp(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }

    /// A gray version of `photo`.
    static func grayPhoto(width: Int, height: Int, seed: Int = 0) -> RawImage {
        Preprocessing.convert(photo(width: width, height: height, seed: seed), channels: 1)
    }

    /// Decodes `bytes` with libjpeg's plain API (no shim, no scaling, no error recovery: good files
    /// only), to RGB, gray or raw CMYK (`colorSpace`: JCS_RGB, JCS_GRAYSCALE, JCS_CMYK).
    static func referenceDecode(_ bytes: [UInt8], colorSpace: J_COLOR_SPACE) -> RawImage {
        var cinfo = jpeg_decompress_struct()
        var err = jpeg_error_mgr()
        cinfo.err = jpeg_std_error(&err)
        jpeg_CreateDecompress(&cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_decompress_struct>.size)
        defer { jpeg_destroy_decompress(&cinfo) }
        bytes.withUnsafeBufferPointer { jpeg_mem_src(&cinfo, $0.baseAddress, UInt($0.count)) }
        _ = jpeg_read_header(&cinfo, 1)
        cinfo.out_color_space = colorSpace
        _ = jpeg_start_decompress(&cinfo)
        let w = Int(cinfo.output_width), h = Int(cinfo.output_height), c = Int(cinfo.output_components)
        var pixels = [UInt8](repeating: 0, count: w * h * c)
        pixels.withUnsafeMutableBufferPointer { out in
            while cinfo.output_scanline < cinfo.output_height {
                var row: JSAMPROW? = out.baseAddress! + Int(cinfo.output_scanline) * w * c
                _ = jpeg_read_scanlines(&cinfo, &row, 1)
            }
        }
        _ = jpeg_finish_decompress(&cinfo)
        return RawImage(pixels: pixels, width: w, height: h, channels: c)
    }

    /// Mean and maximum absolute difference of two equally long byte arrays.
    static func difference(_ a: [UInt8], _ b: [UInt8]) -> (mean: Double, max: Int) {
        precondition(a.count == b.count, "difference: \(a.count) vs \(b.count) bytes")
        var total = 0, worst = 0
        for i in 0..<a.count { let d = abs(Int(a[i]) - Int(b[i])); total += d; worst = max(worst, d) }
        return (Double(total) / Double(max(a.count, 1)), worst)
    }
}
