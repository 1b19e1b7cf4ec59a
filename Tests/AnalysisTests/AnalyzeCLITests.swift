import Foundation
import XCTest
import Analysis
import NN
import Robustness
import Store
import Tensors

/// `atalp analyze` end to end: runs the atalp binary built beside this test bundle (skipped where
/// there is none) on artifacts made here, by store id prefix and by file path.
final class AnalyzeCLITests: XCTestCase {
    func atalp(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let bundle = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let binary = URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("atalp").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("no atalp binary beside \(bundle)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testAnalyzeRedrawsFromArtifactsAndNamesBadInputs() throws {
        let dir = NSTemporaryDirectory() + "atalp-analyze-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ArtifactStore(root: "\(dir)/store")
        var rng = SeededRandom(seed: 1)
        let model = ResNet(.cifar(depth: 8, widths: [4, 8, 8], inputChannels: 1, classes: 3), rng: &rng)
        let data = LabeledImages(images: Tensor.uniform(shape: [2, 1, 8, 8], using: &rng), labels: [0, 1])
        let masks = [UInt8](repeating: 0, count: 64) + [UInt8](repeating: 1, count: 32) + [UInt8](repeating: 0, count: 32)
        let id = try ActivationStatistics.compute(model, on: data, source: .adversarial(defense: "PAT", threatModel: "white-box", epsilon: 0.25),
                                                  masks: masks, subset: [1]).put(in: store, metadata: ArtifactMetadata(kind: ""))
        let lid = try LossLandscape.compute(model, images: data.images, labels: data.labels, indices: [1], defense: "PAT",
                                            configuration: LossLandscapeConfiguration(radius: 0.1, steps: 3))
            .put(in: store, metadata: ArtifactMetadata(kind: ""))

        let ok = try atalp(["analyze", String(id.hex.prefix(8)), store.path(of: lid), "--store", store.root, "--output", "\(dir)/out"])
        XCTAssertEqual(ok.status, 0, ok.output)
        let lines = ok.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "read 1 activation and 1 loss-landscape artifact(s)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("| PAT | adversarial | white-box | 0.25 | 1 | 50.0% |") }, ok.output)
        XCTAssertEqual(lines.last, "wrote 9 files under \(dir)/out/ (start with \(dir)/out/analysis.md)")
        for name in ["analysis.md", "key-regions.csv", "key-regions.svg", "attention/image-1/pat-white-box-eps-0.25-input.png", "landscapes/pat-image-1.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/out/\(name)"), name)
        }

        let dataset = try store.put(ArtifactMetadata(kind: "dataset")) { try $0.write("x", uint8: [1], shape: [1]) }
        let wrongKind = try atalp(["analyze", store.path(of: dataset), "--output", "\(dir)/out2"])
        XCTAssertEqual(wrongKind.status, 1)
        XCTAssertEqual(wrongKind.output, "Error: \(store.path(of: dataset)): artifact kind 'dataset' cannot be analysed: "
                       + "expected 'activation-stats' or 'loss-landscape'\n")
        let missing = try atalp(["analyze", "\(dir)/nothing.h5", "--store", store.root])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.output.hasPrefix("Error: "), missing.output)
    }
}
