import CJPEG
import CPNG
import Foundation
import Testing
@testable import Data

@Suite struct JPEGTests {
    @Test(arguments: [false, true])
    func decodesRGBLikeAnIndependentDecode(progressive: Bool) throws {
        let source = TestImages.photo(width: 61, height: 43)
        let bytes = try JPEG.encode(source, quality: 95, progressive: progressive)
        let (image, info) = try JPEG.decodeWithInfo(bytes, path: "photo.jpg")
        #expect(info.progressive == progressive)
        #expect(info.width == 61 && info.height == 43 && info.scaleDenominator == 1)
        #expect(image.width == 61 && image.height == 43 && image.channels == 3)
        #expect(image == TestImages.referenceDecode(bytes, colorSpace: JCS_RGB))
        // And close to what was encoded (quality 95 with 4:2:0 chroma: small errors only).
        let d = TestImages.difference(image.pixels, source.pixels)
        #expect(d.mean < 4, "mean abs error \(d.mean)")
    }

    @Test func decodesGrayscaleAndConvertsColourModes() throws {
        let source = TestImages.grayPhoto(width: 40, height: 30)
        let bytes = try JPEG.encode(source, quality: 100)
        let gray = try JPEG.decode(bytes, path: "gray.jpg")
        #expect(gray.channels == 1)
        #expect(gray == TestImages.referenceDecode(bytes, colorSpace: JCS_GRAYSCALE))
        #expect(TestImages.difference(gray.pixels, source.pixels).max <= 3)
        let rgb = try JPEG.decode(bytes, path: "gray.jpg", color: .rgb)
        #expect(rgb.channels == 3 && rgb.pixels[0] == gray.pixels[0] && rgb.pixels[2] == gray.pixels[0])
        // Colour file as gray: through RGB, then Pillow's "L" luma (not libjpeg's Y channel).
        let colour = try JPEG.encode(TestImages.photo(width: 40, height: 30), quality: 100)
        let luma = try JPEG.decode(colour, path: "c.jpg", color: .gray)
        let reference = Preprocessing.convert(TestImages.referenceDecode(colour, colorSpace: JCS_RGB), channels: 1)
        #expect(luma == reference)
    }

    /// CMYK files as Photoshop writes them (Adobe marker, inverted inks). With stored values
    /// (c, m, y, k), R = c·k/255: a stored (255, 255, 255, 255) is white, (0, 255, 255, 255) red…
    @Test func decodesAdobeCMYK() throws {
        let w = 16, h = 8
        var cmyk = [UInt8](repeating: 255, count: w * h * 4)
        for y in 0..<h { for x in 0..<w where x < 8 { cmyk[(y * w + x) * 4] = 0 } }  // left half: full cyan ink → red 0
        let bytes = try JPEG.encode(RawImage(pixels: cmyk, width: w, height: h, channels: 4), quality: 100)
        let (image, info) = try JPEG.decodeWithInfo(bytes, path: "cmyk.jpg")
        #expect(info.colorSpace == Int(JCS_YCCK.rawValue) || info.colorSpace == Int(JCS_CMYK.rawValue))
        #expect(image.channels == 3)
        let raw = TestImages.referenceDecode(bytes, colorSpace: JCS_CMYK)
        for i in 0..<(w * h) {
            for c in 0..<3 {
                let expected = (Int(raw.pixels[4 * i + c]) * Int(raw.pixels[4 * i + 3]) + 127) / 255
                #expect(abs(Int(image.pixels[3 * i + c]) - expected) <= 1)
            }
        }
        #expect(image[2, 12, 0] >= 250 && image[2, 12, 1] >= 250)   // right half white
        #expect(image[2, 2, 0] <= 5 && image[2, 2, 1] >= 250)        // left half cyan: no red
    }

    /// DCT scaling: asking for at least a quarter of the size decodes at 1/4, close to a full
    /// decode shrunk by 4×4 box averages.
    @Test func dctScalingShrinksWhenAllowed() throws {
        let source = TestImages.photo(width: 160, height: 120)
        let bytes = try JPEG.encode(source, quality: 95)
        let (quarter, info) = try JPEG.decodeWithInfo(bytes, path: "p.jpg", atLeast: (40, 30))
        #expect(info.scaleDenominator == 4 && quarter.width == 40 && quarter.height == 30)
        let (half, halfInfo) = try JPEG.decodeWithInfo(bytes, path: "p.jpg", atLeast: (41, 30))
        #expect(halfInfo.scaleDenominator == 2 && half.width == 80)
        let (_, noInfo) = try JPEG.decodeWithInfo(bytes, path: "p.jpg", atLeast: (100, 10))
        #expect(noInfo.scaleDenominator == 1)
        let full = try JPEG.decode(bytes, path: "p.jpg")
        let shrunk = Preprocessing(width: 40, height: 30, fit: .stretch).apply(to: full)
        let quarterPlanar = Preprocessing(width: 40, height: 30, fit: .stretch).apply(to: quarter)
        let d = TestImages.difference(shrunk, quarterPlanar)
        #expect(d.mean < 3, "DCT-scaled decode differs from full decode + area resize by \(d.mean) on average")
    }

    @Test func damagedFilesAreErrorsNamingTheFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let good = try JPEG.encode(TestImages.photo(width: 64, height: 48), quality: 90)
        try folder.write(Array(good.prefix(good.count / 2)), to: "truncated.jpg")
        try folder.write(Array(good.prefix(200)), to: "header-only.jpg")
        var scrambled = good
        for i in stride(from: 400, to: scrambled.count - 2, by: 7) { scrambled[i] = 0xFF; scrambled[i + 1] = UInt8(i % 200) }
        try folder.write(scrambled, to: "scrambled.jpg")
        try folder.write([0xFF, 0xD8, 0xFF, 0xE0, 0, 2], to: "stub.jpg")
        try folder.write(Array("hello, I am not a picture\n".utf8), to: "text.jpg")
        try folder.write([], to: "empty.jpg")
        for name in ["truncated.jpg", "header-only.jpg", "scrambled.jpg", "stub.jpg"] {
            expectDataError(.corrupt, naming: folder.file(name)) { try JPEG.decode(contentsOf: folder.file(name)) }
        }
        expectDataError(.corrupt, naming: folder.file("truncated.jpg"), containing: "Premature end") {
            try JPEG.decode(contentsOf: folder.file("truncated.jpg"))
        }
        expectDataError(.corrupt, naming: folder.file("text.jpg"), containing: "not a JPEG file (starts with text \"hello, I am not") {
            try JPEG.decode(contentsOf: folder.file("text.jpg"))
        }
        expectDataError(.corrupt, naming: folder.file("empty.jpg"), containing: "empty") { try JPEG.decode(contentsOf: folder.file("empty.jpg")) }
        expectDataError(.notFound, naming: folder.file("missing.jpg")) { try JPEG.decode(contentsOf: folder.file("missing.jpg")) }
    }
}

@Suite struct PNGTests {
    @Test func roundTripsGrayAndRGB() throws {
        let rgb = TestImages.photo(width: 21, height: 13)
        #expect(try PNG.decode(PNG.encode(rgb), path: "a.png") == rgb)
        let gray = TestImages.grayPhoto(width: 21, height: 13)
        #expect(try PNG.decode(PNG.encode(gray), path: "b.png") == gray)
        let asRGB = try PNG.decode(PNG.encode(gray), path: "b.png", color: .rgb)
        #expect(asRGB.channels == 3 && asRGB[5, 7, 1] == gray[5, 7, 0])
    }

    @Test func damagedFilesAreErrorsNamingTheFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let good = try PNG.encode(TestImages.photo(width: 30, height: 30))
        try folder.write(Array(good.prefix(good.count / 2)), to: "truncated.png")
        try folder.write(try JPEG.encode(TestImages.photo(width: 8, height: 8)), to: "really-a-jpeg.png")
        expectDataError(.corrupt, naming: folder.file("truncated.png")) { try PNG.decode(contentsOf: folder.file("truncated.png")) }
        expectDataError(.corrupt, naming: folder.file("really-a-jpeg.png"), containing: "not a PNG") {
            try PNG.decode(contentsOf: folder.file("really-a-jpeg.png"))
        }
    }
}

@Suite struct PNGFormatTests {
    /// 16-bit samples become their high byte, without gamma (as Pillow does for 16-bit RGB):
    /// 65535 → 255, 32896 (0x8080) → 128.
    @Test func sixteenBitGrayScalesWithoutGamma() throws {
        var image = png_image()
        image.version = atalp_png_version()
        image.width = 3
        image.height = 1
        image.format = atalp_png_flag_linear()
        let samples: [UInt16] = [0, 65535, 32896]
        var size = 0
        _ = samples.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        var bytes = [UInt8](repeating: 0, count: size)
        let ok = bytes.withUnsafeMutableBytes { out in
            samples.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        #expect(ok != 0)
        let decoded = try PNG.decode(Array(bytes.prefix(size)), path: "wide.png")
        #expect(decoded.channels == 1 && decoded.pixels == [0, 255, 128])
    }
}
