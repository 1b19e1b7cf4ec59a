// Data benchmark: JPEG decode + resize + centre crop throughput, atalp against Pillow on the same files.
//
//   swift run -c release --scratch-path .build-data DataBench [--count 300] [--sizes 224,32] [--keep DIR]
//
// Generates `count` photo-like 500×375 JPEGs (smooth shapes, texture and sensor-like noise, quality 90,
// 4:2:0, written by libjpeg), then for each output size times, single-threaded and best of three:
//   atalp: Preprocessing(size:, filter: .bilinear).apply(encoded:), DCT scaling on (the default);
//   Pillow: benchmarks/data/pillow_decode_resize.py, plain (full decode) and with draft() (DCT scaling).
// Prints images per second and the ratios atalp / Pillow (goal ≥ 1.0), and how far the outputs differ.
import Data
import Foundation

struct Options {
    var count = 300
    var sizes = [224, 32]
    var keep: String? = nil
    var python = "python3"

    init(_ arguments: [String]) {
        var i = 1
        while i < arguments.count {
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--count": count = Int(value) ?? count; i += 1
            case "--sizes": sizes = value.split(separator: ",").compactMap { Int($0) }; i += 1
            case "--keep": keep = value; i += 1
            case "--python": python = value; i += 1
            default: fatalError("unknown argument \(arguments[i]); see the header of main.swift")
            }
            i += 1
        }
    }
}

/// A seeded photo-like picture: gradient sky, a few discs and bars, fine texture and noise.
func photo(width: Int, height: Int, seed: UInt64) -> RawImage {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
    func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    let discs = (0..<4).map { _ in (next() * Double(width), next() * Double(height), 30 + next() * 90, next(), next(), next()) }
    let tint = (next(), next(), next())
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let fy = Double(y) / Double(height), fx = Double(x) / Double(width)
            var r = 80 + 120 * tint.0 * (1 - fy) + 30 * fx, g = 90 + 100 * tint.1 * (1 - fy), b = 120 + 110 * tint.2 * (1 - fy)
            for d in discs {
                let dist = ((Double(x) - d.0) * (Double(x) - d.0) + (Double(y) - d.1) * (Double(y) - d.1)).squareRoot()
                if dist < d.2 {
                    let shade = 1 - 0.5 * dist / d.2
                    r = 255 * d.3 * shade; g = 255 * d.4 * shade; b = 255 * d.5 * shade
                }
            }
            let texture = 14 * sin(Double(x) * 0.9 + Double(y) * 0.3) * sin(Double(y) * 0.7)
            let noise = (next() - 0.5) * 18
            let i = (y * width + x) * 3
            pixels[i] = UInt8(max(0, min(255, r + texture + noise)))
            pixels[i + 1] = UInt8(max(0, min(255, g + texture + noise)))
            pixels[i + 2] = UInt8(max(0, min(255, b - texture + noise)))
        }
    }
    return RawImage(pixels: pixels, width: width, height: height, channels: 3)
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let options = Options(CommandLine.arguments)
let folder = options.keep ?? (NSTemporaryDirectory() + "atalp-databench-\(getpid())")
try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
defer { if options.keep == nil { try? FileManager.default.removeItem(atPath: folder) } }

var paths: [String] = []
for k in 0..<options.count {
    let path = folder + String(format: "/photo_%04d.jpg", k)
    if !FileManager.default.fileExists(atPath: path) {
        let bytes = try JPEG.encode(photo(width: 500, height: 375, seed: UInt64(k)), quality: 90)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
    paths.append(path)
}
let listFile = folder + "/files.txt"
try paths.joined(separator: "\n").write(toFile: listFile, atomically: true, encoding: .utf8)
let files = try paths.map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0))) }
let megabytes = Double(files.reduce(0) { $0 + $1.count }) / 1e6
print("data benchmark: \(paths.count) JPEG files, 500×375, \(String(format: "%.1f", megabytes)) MB, in \(folder)")

let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("pillow_decode_resize.py").path

for size in options.sizes {
    let p = Preprocessing(size: size, filter: .bilinear)
    var outputs: [[UInt8]] = []
    // atalp reads each file from disk like Pillow does (page cache): read + decode + resize.
    func pass() throws {
        outputs.removeAll(keepingCapacity: true)
        for path in paths {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let out = try p.apply(encoded: bytes, path: path)
            if outputs.count < 8 { outputs.append(out) }
        }
    }
    try pass()  // warm-up
    var best = Double.infinity
    for _ in 0..<3 { best = min(best, try seconds(pass)) }
    let ours = Double(paths.count) / best

    // Both cores, for the record (Pillow's figure stays single-threaded).
    let parallelTime = try seconds {
        _ = try Ingest.decode(SourceListing(layout: .imageFolder, root: folder, classNames: ["x"],
                                            files: paths.map { SourceFile(path: $0, relativePath: $0, label: 0, split: .train) },
                                            skipped: [], splitFromLayout: true), preprocessing: p)
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [options.python, script, listFile, String(size), folder + "/pillow\(size)"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
          let json = try JSONSerialization.jsonObject(with: output) as? [String: Any],
          let plain = json["plain"] as? Double, let draft = json["draft"] as? Double else {
        print("size \(size): Pillow run failed (is Pillow installed? pip install pillow)")
        continue
    }

    // Agreement: our C×H×W against Pillow's H×W×C, first 8 images.
    func difference(_ name: String) -> String {
        guard let pillow = FileManager.default.contents(atPath: folder + "/pillow\(size).\(name).bin") else { return "n/a" }
        let bytes = [UInt8](pillow)
        var total = 0, worst = 0, n = 0
        for (k, out) in outputs.enumerated() where (k + 1) * size * size * 3 <= bytes.count {
            for c in 0..<3 { for i in 0..<(size * size) {
                let d = abs(Int(out[c * size * size + i]) - Int(bytes[k * size * size * 3 + i * 3 + c]))
                total += d; worst = max(worst, d); n += 1
            } }
        }
        return String(format: "mean |Δ| %.2f, max %d", Double(total) / Double(max(n, 1)), worst)
    }

    print(String(format: "size %3d: atalp %7.1f img/s (1 thread; %.1f img/s on %d threads) | Pillow %@ plain %7.1f img/s, draft %7.1f img/s",
                 size, ours, Double(paths.count) / parallelTime, ProcessInfo.processInfo.activeProcessorCount,
                 (json["pillow"] as? String) ?? "?", plain, draft))
    print(String(format: "          ratio atalp/Pillow: %.2f (vs plain), %.2f (vs draft)   [outputs vs plain: %@; vs draft: %@]",
                 ours / plain, ours / draft, difference("plain"), difference("draft")))
}
