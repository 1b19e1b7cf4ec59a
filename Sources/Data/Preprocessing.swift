import Foundation

/// How images become the fixed-size `uint8` tensors a pipeline trains on: resize so the shorter side
/// is `resizeShorterSide` (aspect kept), then centre-crop `height`×`width`, with an area or
/// antialiased bilinear filter. `fit: .stretch` instead resizes straight to `height`×`width`.
///
///     let p = Preprocessing(size: 224)                       // ResNet-101 input, as the paper
///     let q = Preprocessing(size: 32, filter: .area)         // small-image runs, box filter
///     let r = Preprocessing(size: 224, resizeShorterSide: 256)   // torchvision's eval transform
///
/// JPEG files shrunk by 2× or more decode at 1/2, 1/4 or 1/8 scale first (libjpeg's DCT scaling),
/// never below the size the resize needs, so the result differs only slightly from a full decode.
/// Augmentation (random crops, flips) is not done here: it is a seeded transform of the train stage.
public struct Preprocessing: Sendable, Equatable, Hashable, Codable {
    public enum Fit: String, Sendable, Codable, CaseIterable {
        /// Resize the shorter side to `resizeShorterSide`, then crop the centre.
        case centerCrop = "center-crop"
        /// Resize to exactly `height`×`width`, ignoring the aspect ratio.
        case stretch
    }

    public var width: Int
    public var height: Int
    /// The shorter side after resizing, before the crop; nil means `max(width, height)`.
    public var resizeShorterSide: Int?
    public var fit: Fit
    public var filter: ResizeFilter
    /// 1 (gray) or 3 (RGB).
    public var channels: Int
    /// Whether JPEG decoding may use DCT scaling.
    public var dctScaling: Bool

    public init(width: Int, height: Int, resizeShorterSide: Int? = nil, fit: Fit = .centerCrop,
                filter: ResizeFilter = .bilinear, channels: Int = 3, dctScaling: Bool = true) {
        self.width = width
        self.height = height
        self.resizeShorterSide = resizeShorterSide
        self.fit = fit
        self.filter = filter
        self.channels = channels
        self.dctScaling = dctScaling
    }

    public init(size: Int, resizeShorterSide: Int? = nil, fit: Fit = .centerCrop, filter: ResizeFilter = .bilinear,
                channels: Int = 3, dctScaling: Bool = true) {
        self.init(width: size, height: size, resizeShorterSide: resizeShorterSide, fit: fit, filter: filter,
                  channels: channels, dctScaling: dctScaling)
    }

    /// Throws `.invalidArgument` for sizes that cannot work.
    public func validate() throws {
        guard width > 0, height > 0, width <= 8192, height <= 8192 else {
            throw DataError(.invalidArgument, path: "preprocessing", "output size \(width)×\(height) is out of range 1…8192")
        }
        guard channels == 1 || channels == 3 else {
            throw DataError(.invalidArgument, path: "preprocessing", "channels must be 1 or 3, not \(channels)")
        }
        if let s = resizeShorterSide, s < max(width, height) {
            throw DataError(.invalidArgument, path: "preprocessing",
                            "resize-shorter-side \(s) is smaller than the \(width)×\(height) crop")
        }
    }

    /// For an input of `inWidth`×`inHeight`: the size it is resized to before the crop, and the
    /// crop's box in input pixel coordinates.
    public func geometry(inWidth: Int, inHeight: Int) -> (resizedWidth: Int, resizedHeight: Int,
                                                           box: (x0: Double, y0: Double, x1: Double, y1: Double)) {
        if fit == .stretch {
            return (width, height, (0, 0, Double(inWidth), Double(inHeight)))
        }
        let side = Double(resizeShorterSide ?? max(width, height))
        let scale = side / Double(min(inWidth, inHeight))
        let rw = max(Int((Double(inWidth) * scale).rounded()), width)
        let rh = max(Int((Double(inHeight) * scale).rounded()), height)
        // The crop offset as torchvision's CenterCrop computes it; the box maps it back through
        // each axis's own scale, so this equals "resize to rw×rh, then crop" exactly.
        let left = Int((Double(rw - width) / 2).rounded()), top = Int((Double(rh - height) / 2).rounded())
        let sx = Double(inWidth) / Double(rw), sy = Double(inHeight) / Double(rh)
        return (rw, rh, (Double(left) * sx, Double(top) * sy, Double(left + width) * sx, Double(top + height) * sy))
    }

    /// Resizes and crops a decoded image to C×`height`×`width` planar bytes (`channels` channels).
    public func apply(to image: RawImage) -> [UInt8] {
        var source = image
        if image.channels != channels { source = Preprocessing.convert(image, channels: channels) }
        let g = geometry(inWidth: source.width, inHeight: source.height)
        var out = [UInt8](repeating: 0, count: channels * width * height)
        out.withUnsafeMutableBufferPointer { buffer in
            Resampler.resample(source, box: g.box, outWidth: width, outHeight: height, filter: filter, into: buffer.baseAddress!)
        }
        return out
    }

    /// Decodes an image file's bytes (JPEG or PNG, told apart by content) and preprocesses it.
    public func apply(encoded bytes: [UInt8], path: String) throws -> [UInt8] {
        switch ImageFormat.sniff(bytes) {
        case .jpeg:
            var atLeast: (width: Int, height: Int)? = nil
            if dctScaling, let header = JPEGHeader(bytes) {
                let g = geometry(inWidth: header.width, inHeight: header.height)
                atLeast = fit == .stretch ? (width, height) : (g.resizedWidth, g.resizedHeight)
            }
            return apply(to: try JPEG.decode(bytes, path: path, atLeast: atLeast, color: ColorMode(channels: channels)))
        case .png:
            return apply(to: try PNG.decode(bytes, path: path, color: ColorMode(channels: channels)))
        case nil:
            throw DataError(.corrupt, path: path, bytes.isEmpty ? "empty file, not an image"
                                                               : "not a JPEG or PNG image (\(JPEG.describeStart(bytes)))")
        }
    }

    /// A key-region mask at this preprocessing's geometry: `isKey(pixel, channels)` marks the key
    /// pixels of `mask` (full size, any channels); the plane is resized with the area filter and a pixel of
    /// the output is key (1) when at least half of the area it covers is. H×W bytes of 0 or 1.
    public func applyMask(_ mask: RawImage, isKey: (UnsafePointer<UInt8>, Int) -> Bool) -> [UInt8] {
        var plane = [UInt8](repeating: 0, count: mask.width * mask.height)
        mask.pixels.withUnsafeBufferPointer { src in
            for i in 0..<plane.count { plane[i] = isKey(src.baseAddress! + i * mask.channels, mask.channels) ? 255 : 0 }
        }
        let binary = RawImage(pixels: plane, width: mask.width, height: mask.height, channels: 1)
        let g = geometry(inWidth: mask.width, inHeight: mask.height)
        var out = [UInt8](repeating: 0, count: width * height)
        out.withUnsafeMutableBufferPointer { buffer in
            Resampler.resample(binary, box: g.box, outWidth: width, outHeight: height, filter: .area, into: buffer.baseAddress!)
            for i in 0..<buffer.count { buffer[i] = buffer[i] >= 128 ? 1 : 0 }
        }
        return out
    }

    /// Gray → RGB by replication; RGB → gray by ITU-R 601 luma (Pillow's "L" conversion).
    static func convert(_ image: RawImage, channels: Int) -> RawImage {
        let n = image.width * image.height
        var out = [UInt8](repeating: 0, count: n * channels)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if channels == 3 {
                    for i in 0..<n { let v = src[i]; dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v }
                } else {
                    for i in 0..<n {
                        let y = (UInt32(src[3 * i]) * 19595 + UInt32(src[3 * i + 1]) * 38470 + UInt32(src[3 * i + 2]) * 7471 + 32768) >> 16
                        dst[i] = UInt8(truncatingIfNeeded: y)
                    }
                }
            }
        }
        return RawImage(pixels: out, width: image.width, height: image.height, channels: channels)
    }
}

/// The size fields of a JPEG's frame header, read without libjpeg (for planning DCT scaling).
struct JPEGHeader {
    var width: Int
    var height: Int

    init?(_ bytes: [UInt8]) {
        var i = 2
        while i + 9 < bytes.count {
            guard bytes[i] == 0xFF else { return nil }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            // SOF0…SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            if (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
                height = Int(bytes[i + 5]) << 8 | Int(bytes[i + 6])
                width = Int(bytes[i + 7]) << 8 | Int(bytes[i + 8])
                if width == 0 || height == 0 { return nil }
                return
            }
            if marker == 0xDA || length < 2 { return nil }
            i += 2 + length
        }
        return nil
    }
}
