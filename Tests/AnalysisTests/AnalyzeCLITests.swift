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
        XCTAssertEqual(lines.last, "wrote 10 files under \(dir)/out/ (start with \(dir)/out/analysis.md)")
        for name in ["analysis.md", "analysis.html", "key-regions.csv", "key-regions.svg", "attention/image-1/pat-white-box-eps-0.25-input.png", "landscapes/pat-image-1.svg"] {
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

    /// The pipeline's analyze stage puts Table 2 and the figures in the report; after every checkpoint
    /// and data set is deleted from the store, `atalp analyze` on the stored activation and landscape
    /// artifacts alone redraws the same Table 2.
    func testPipelineAnalysisRedrawsAfterCheckpointsAreDeleted() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else { throw XCTSkip("needs dataset-fashion-mnist") }
        let dir = NSTemporaryDirectory() + "atalp-analyze-pipeline-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = "\(dir)/tiny.yaml"
        try """
            name: tiny
            data: {source: fashion-mnist, train_examples: 64, test_examples: 8}
            training: {epochs: 1, batch_size: 16}
            defense: {attack: {epsilon: 0.1, step_size: 0.05, iterations: 1}}
            models:
              - {name: plain, architecture: resnet8, widths: [4, 4, 8], defense: {kind: none}}
              - {name: atalp, label: AT+ALP, architecture: resnet8, widths: [4, 4, 8], defense: {kind: atalp}}
            attacks:
              - {name: pgd, threat_models: [white-box, gray-box], epsilons: [0.1], iterations: [2], step_size: 0.05}
            analyses:
              - {name: looks, kind: activations, parameters: {attack: pgd, figure_images: [0], landscape_images: [1], landscape_steps: 5}}

            """.write(toFile: file, atomically: true, encoding: .utf8)
        let store = "\(dir)/store", report = "\(dir)/report"
        let run = try atalp(["run", file, "--store", store, "--report-dir", report])
        XCTAssertEqual(run.status, 0, run.output)
        let table = try String(contentsOfFile: "\(report)/analysis/key-regions.csv", encoding: .utf8)
        // Two models × (clean, white-box, gray-box), each with a ratio per group.
        XCTAssertEqual(table.split(separator: "\n").count, 1 + 6, table)
        for set in ["AT+ALP,clean", "AT+ALP,adversarial,white-box,0.1", "AT+ALP,adversarial,gray-box,0.1", "plain,clean"] {
            XCTAssertTrue(table.contains(set), "\(set) missing from\n\(table)")
        }
        let html = try String(contentsOfFile: "\(report)/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Key-region attention (Table 2)") && html.contains("<img src=\"analysis/attention/image-0/"), html)
        // Figure 4 draws clean and gray-box (the default figure sets) for both models: 2 × 2 rows of input + 3 groups.
        let panels = try FileManager.default.contentsOfDirectory(atPath: "\(report)/analysis/attention/image-0")
        XCTAssertEqual(panels.count, 4 * 4, panels.description)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(report)/analysis/landscapes/at-alp-image-1.svg"))

        // Offline: delete every checkpoint and data set, then redraw from the analysis artifacts alone.
        let opened = try ArtifactStore(root: store)
        let doomed = try opened.artifacts().filter { ["checkpoint", "dataset"].contains($0.kind) }
        XCTAssertFalse(doomed.isEmpty)
        for a in doomed { try FileManager.default.removeItem(atPath: a.path) }
        let listed = try atalp(["store", "ls", "--store", store, "--kind", "activation-stats", "--kind", "loss-landscape", "--ids"])
        let ids = listed.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(ids.count, 6 + 2, listed.output)
        let offline = try atalp(["analyze"] + ids + ["--store", store, "--output", "\(dir)/offline"])
        XCTAssertEqual(offline.status, 0, offline.output)
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/offline/key-regions.csv", encoding: .utf8), table)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/offline/attention/image-0/at-alp-clean-group-2.png"))
    }
}
