/// One image as a decoder returns it: 8-bit samples, H×W×C interleaved (RGB or gray), before any
/// resizing. `ImageDataset` stores images channel-planar instead; `Preprocessing` converts.
public struct RawImage: Sendable, Equatable {
    public var pixels: [UInt8]
    public var width: Int
    public var height: Int
    /// 1 (gray) or 3 (RGB).
    public var channels: Int

    public init(pixels: [UInt8], width: Int, height: Int, channels: Int) {
        precondition(pixels.count == width * height * channels, "RawImage: \(pixels.count) bytes for \(width)×\(height)×\(channels)")
        self.pixels = pixels
        self.width = width
        self.height = height
        self.channels = channels
    }

    /// Sample (y, x, c).
    @inlinable
    public subscript(y: Int, x: Int, c: Int) -> UInt8 { pixels[(y * width + x) * channels + c] }
}

/// The colour model an image is decoded to.
public enum ColorMode: Int32, Sendable {
    /// Gray files stay gray (1 channel); colour files (RGB, YCbCr, CMYK) become RGB.
    case native = 0
    /// Everything becomes gray: luma Y = 0.299 R + 0.587 G + 0.114 B.
    case gray = 1
    /// Everything becomes RGB (gray replicated).
    case rgb = 3

    /// The colour mode that yields `channels` channels (1 or 3).
    public init(channels: Int) {
        precondition(channels == 1 || channels == 3, "channels must be 1 or 3, not \(channels)")
        self = channels == 1 ? .gray : .rgb
    }
}

/// The kinds of image file we read, told apart by their first bytes (never by extension).
public enum ImageFormat: String, Sendable {
    case jpeg, png

    /// The format `bytes` begin with, or nil.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }
}
