import CJPEG
import Foundation
import Testing
@testable import Data

@Suite struct PreprocessingTests {
    /// Same size, no crop: the resampler is the identity.
    @Test(arguments: ResizeFilter.allCases)
    func sameSizeIsIdentity(filter: ResizeFilter) {
        let image = TestImages.photo(width: 9, height: 7)
        let out = Preprocessing(width: 9, height: 7, fit: .stretch, filter: filter).apply(to: image)
        #expect(out == planar(image))
    }

    /// Area shrink by exactly 2: each output is the rounded mean of a 2×2 block (within 1, since
    /// the two passes round separately). Hand check: block (10, 20, 30, 40) → 25.
    @Test func areaShrinkAveragesBlocks() {
        let pixels: [UInt8] = [10, 20, 100, 100,
                               30, 40, 100, 100,
                               0, 0, 255, 255,
                               0, 0, 255, 253]
        let image = RawImage(pixels: pixels, width: 4, height: 4, channels: 1)
        let out = Preprocessing(width: 2, height: 2, fit: .stretch, filter: .area, channels: 1).apply(to: image)
        #expect(out == [25, 100, 0, 255] || out == [25, 100, 0, 254])
        // Antialiased bilinear: triangle over 4 taps, weights 1/8, 3/8, 3/8, 1/8 per axis; on a constant
        // image it gives back the constant.
        let constant = RawImage(pixels: [UInt8](repeating: 77, count: 48), width: 8, height: 6, channels: 1)
        #expect(Preprocessing(width: 3, height: 2, fit: .stretch, filter: .bilinear, channels: 1).apply(to: constant)
                == [UInt8](repeating: 77, count: 6))
    }

    /// Bilinear enlargement by 2 of a ramp 0, 100: the samples at centres 0.25 and 0.75 of the
    /// gap get 25 and 75, the edges clamp.
    @Test func bilinearEnlargesARamp() {
        let image = RawImage(pixels: [0, 100], width: 2, height: 1, channels: 1)
        let out = Preprocessing(width: 4, height: 1, fit: .stretch, filter: .bilinear, channels: 1).apply(to: image)
        #expect(out == [0, 25, 75, 100])
    }

    /// Centre crop without resize: a 6×4 image at size 4 keeps columns 1…4.
    @Test func centerCropKeepsTheMiddle() {
        let image = TestImages.photo(width: 6, height: 4)
        let p = Preprocessing(size: 4)
        let g = p.geometry(inWidth: 6, inHeight: 4)
        #expect(g.resizedWidth == 6 && g.resizedHeight == 4)
        #expect(g.box.x0 == 1 && g.box.x1 == 5 && g.box.y0 == 0 && g.box.y1 == 4)
        let out = p.apply(to: image)
        for c in 0..<3 { for y in 0..<4 { for x in 0..<4 { #expect(out[(c * 4 + y) * 4 + x] == image[y, x + 1, c]) } } }
        // torchvision's eval transform: shorter side 256, crop 224, for a 500×375 photo.
        let t = Preprocessing(size: 224, resizeShorterSide: 256).geometry(inWidth: 500, inHeight: 375)
        #expect(t.resizedWidth == 341 && t.resizedHeight == 256)
    }

    @Test func masksFollowTheImageGeometry() {
        // A 8×4 trimap, flower-red on the right half; centre crop 4×4 keeps columns 2…5:
        // the left two output columns are background, the right two flower.
        var pixels = [UInt8](repeating: 0, count: 8 * 4 * 3)
        for y in 0..<4 { for x in 4..<8 { pixels[(y * 8 + x) * 3] = 128 } }
        let trimap = RawImage(pixels: pixels, width: 8, height: 4, channels: 3)
        let mask = Preprocessing(size: 4).applyMask(trimap, isKey: Trimap.isKey(_:channels:))
        #expect(mask == [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1])
    }

    @Test func rejectsImpossibleSizes() {
        expectDataError(.invalidArgument, naming: "preprocessing") { try Preprocessing(size: 0).validate() }
        expectDataError(.invalidArgument, naming: "preprocessing", containing: "smaller") {
            try Preprocessing(size: 224, resizeShorterSide: 200).validate()
        }
        expectDataError(.invalidArgument, naming: "preprocessing") { try Preprocessing(size: 8, channels: 2).validate() }
    }

    @Test func jpegHeaderParserFindsTheFrame() throws {
        let progressive = try JPEG.encode(TestImages.photo(width: 37, height: 23), progressive: true)
        let header = try #require(JPEGHeader(progressive))
        #expect(header.width == 37 && header.height == 23)
        #expect(JPEGHeader([0xFF, 0xD8, 0xFF]) == nil)
    }

    func planar(_ image: RawImage) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        let plane = image.width * image.height
        for i in 0..<plane { for c in 0..<image.channels { out[c * plane + i] = image.pixels[i * image.channels + c] } }
        return out
    }
}
