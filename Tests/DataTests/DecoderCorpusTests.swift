import Foundation
import Testing
@testable import Data

/// atalp's decoders against Pillow, the reference docs/data.md promises (issue 16, fault 4): every
/// colour model and container variant the readers accept, decoded by atalp, must equal Pillow's
/// `Image.open(f).convert("RGB")` (and `convert("L")` for one-channel data) pixel for pixel, except
/// where docs/data.md states a deliberate difference. Files Pillow refuses must be skipped with a
/// reason, never stored as pixels.
///
/// The corpus (DecoderCorpus/: 35×21 images, Pillow's decoded pixels beside each, manifest.json)
/// was made once by DecoderCorpus/make_corpus.py; the tests need no Python.
@Suite struct DecoderCorpusTests {
    struct Entry: Decodable {
        var file: String
        var pillow_mode: String?
        var pillow_error: String?
    }

    struct Manifest: Decodable {
        var pillow: String
        var width: Int
        var height: Int
        var files: [Entry]
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("DecoderCorpus").path

    static func load() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
    }

    /// Decodes a corpus file the way ingest does: by content, to RGB or gray.
    static func decode(_ name: String, color: ColorMode) throws -> RawImage {
        let data = try bytes(name)
        switch ImageFormat.sniff(data) {
        case .jpeg: return try JPEG.decode(data, path: name, color: color)
        case .png: return try PNG.decode(data, path: name, color: color)
        case nil: throw DataError(.corrupt, path: name, "not an image")
        }
    }

    /// Where atalp deliberately differs from Pillow (docs/data.md, "Readers"), the pixels it gives
    /// instead, as the Pillow decode of another corpus file: a 16-bit gray PNG, which Pillow clips
    /// to 0…255 (so nearly white), is cut to its high byte like Pillow cuts 16-bit RGB — the
    /// corpus's 16-bit samples have the 8-bit gray file's values as their high bytes.
    static let deliberate = [
        "png-gray16.png": "png-gray8.png",
        "png-gray16-interlaced.png": "png-gray8.png",
    ]

    @Test func corpusCoversEveryVariantTheReadersAccept() throws {
        let names = Set(try Self.load().files.map(\.file))
        for required in ["jpeg-gray.jpg", "jpeg-ycbcr-420.jpg", "jpeg-rgb.jpg", "jpeg-cmyk-adobe.jpg", "jpeg-cmyk-no-app14.jpg",
                         "jpeg-ycck-adobe.jpg", "jpeg-progressive.jpg", "jpeg-restart.jpg", "png-gray16.png", "png-rgb16.png",
                         "png-palette8.png", "png-palette8-trns.png", "png-graya8.png", "png-rgba8.png",
                         "png-rgb8-interlaced.png", "jpeg-truncated.jpg", "png-truncated.png"] {
            #expect(names.contains(required), "\(required) is missing from the corpus")
        }
    }

    /// Pixel equality with Pillow, RGB and gray, for every file Pillow decodes.
    @Test func decodesLikePillow() throws {
        let manifest = try Self.load()
        let plane = manifest.width * manifest.height
        var mismatches: [String] = []
        for entry in manifest.files where entry.pillow_error == nil {
            let reference = Self.deliberate[entry.file] ?? entry.file
            for (color, suffix, channels) in [(ColorMode.rgb, "rgb", 3), (.gray, "l", 1)] {
                let expected = try Self.bytes("\(reference).\(suffix)")
                let image: RawImage
                do {
                    image = try Self.decode(entry.file, color: color)
                } catch {
                    mismatches.append("\(entry.file) (\(suffix)): atalp failed: \(error)")
                    continue
                }
                guard image.width == manifest.width, image.height == manifest.height, image.channels == channels else {
                    mismatches.append("\(entry.file) (\(suffix)): \(image.width)×\(image.height)×\(image.channels)")
                    continue
                }
                #expect(expected.count == plane * channels)
                let differing = zip(image.pixels, expected).filter { $0 != $1 }.count
                let largest = zip(image.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
                if differing > 0 {
                    mismatches.append("\(entry.file) (\(suffix), Pillow mode \(entry.pillow_mode ?? "?")): "
                                      + "\(differing) of \(expected.count) samples differ, by up to \(largest)")
                }
            }
        }
        #expect(mismatches.isEmpty, "atalp differs from Pillow \(manifest.pillow):\n\(mismatches.joined(separator: "\n"))")
    }

    /// The issue's repro: a CMYK JPEG from Pillow with its Adobe APP14 segment cut out decoded to
    /// all black. It must give the picture, the same as the file with the marker.
    @Test func cmykWithoutAdobeMarkerIsThePicture() throws {
        let stripped = try Self.decode("jpeg-cmyk-no-app14.jpg", color: .rgb)
        #expect(stripped.pixels.contains { $0 > 100 }, "all dark: the inks were read uninverted")
        #expect(stripped == (try Self.decode("jpeg-cmyk-adobe.jpg", color: .rgb)))
    }

    /// Files Pillow refuses (truncated) are errors naming the file, so ingest skips them with the
    /// reason; through ingest, every other corpus file is stored with Pillow's pixels.
    @Test func undecodableFilesAreSkippedNeverStored() throws {
        let manifest = try Self.load()
        let tree = try TemporaryFolder()
        defer { tree.remove() }
        for entry in manifest.files { try tree.write(try Self.bytes(entry.file), to: "all/" + entry.file) }
        // Native size: the stretch to the same size is the identity.
        let native = Preprocessing(width: manifest.width, height: manifest.height, fit: .stretch, channels: 3, dctScaling: false)
        let data = try Ingest.folder(.imageFolder, root: tree.path, preprocessing: native, split: SplitOptions(testFraction: 0), threads: 2)
        let refused = manifest.files.filter { $0.pillow_error != nil }.map(\.file)
        #expect(!refused.isEmpty)
        #expect(Set(data.skipped.map(\.path)) == Set(refused.map { tree.file("all/" + $0) }))
        for skip in data.skipped { #expect(skip.reason.contains("JPEG") || skip.reason.contains("PNG"), "\(skip)") }
        #expect(data.train.count == manifest.files.count - refused.count)
        let plane = manifest.width * manifest.height
        for i in 0..<data.train.count {
            let name = String(data.train.fileNames[i].dropFirst("all/".count))
            let expected = try Self.bytes((Self.deliberate[name] ?? name) + ".rgb")
            var planar = [UInt8](repeating: 0, count: 3 * plane)
            for p in 0..<plane { for c in 0..<3 { planar[c * plane + p] = expected[3 * p + c] } }
            #expect(Array(data.train.image(i)) == planar, "\(name) stored with other pixels than Pillow's")
        }
    }
}
