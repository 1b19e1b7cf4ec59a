import XCTest
import Analysis
import Autodiff
import NN
import Robustness
import Store
import Tensors

/// Attention maps, the key-region statistic and loss landscapes against hand-computed references,
/// and the offline path: artifact → read back → Table 2 and figures without the model.
final class AnalysisTests: XCTestCase {
    /// A three-group small-image ResNet on 1×8×8 images: groups of 8×8, 4×4 and 2×2.
    func tinyModel(seed: UInt64 = 1) -> ResNet {
        var rng = SeededRandom(seed: seed)
        return ResNet(.cifar(depth: 8, widths: [4, 8, 8], inputChannels: 1, classes: 3), rng: &rng)
    }

    func images(_ n: Int, seed: UInt64 = 2) -> LabeledImages {
        var rng = SeededRandom(seed: seed)
        return LabeledImages(images: Tensor.uniform(shape: [n, 1, 8, 8], using: &rng), labels: (0..<n).map { $0 % 3 })
    }

    /// Evaluation-mode outputs, keeping the tape (held weakly by its variables) alive throughout.
    func forward(_ model: ResNet, _ x: Tensor) -> ClassifierOutput {
        let tape = Tape()
        return withExtendedLifetime(tape) { model(tape.input(x, requiresGradient: false), mode: .evaluation) }
    }

    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "atalp-analysis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testAttentionOfAKnownGroupOutputMatchesTheHandComputedMap() {
        // A: 1×2×2×2. Channel 0 = [1, 2; 3, 4], channel 1 = [−1, 0; 2, −2].
        // F(A) = mean over channels of A²: [(1+1)/2, (4+0)/2; (9+4)/2, (16+4)/2] = [1, 2; 6.5, 10].
        let a = Tensor(shape: [1, 2, 2, 2], values: [1, 2, 3, 4, -1, 0, 2, -2])
        let f = ActivationStatistics.attention(of: a)
        XCTAssertEqual(f.shape, [1, 2, 2])
        XCTAssertEqual(f.scalars, [1, 2, 6.5, 10])
        // Exponent 1: mean of |A| = [1, 1; 2.5, 3].
        XCTAssertEqual(ActivationStatistics.attention(of: a, exponent: 1).scalars, [1, 1, 2.5, 3])
    }

    func testComputedMapsAreTheMeanSquaredGroupOutputsOfEachImage() {
        let model = tinyModel(), data = images(5)
        // Batches of 2 (2 + 2 + 1) against one forward pass of all five, reduced by hand.
        let stats = ActivationStatistics.compute(model, on: data, source: .clean(defense: "none"), batchSize: 2)
        let out = forward(model, data.images)
        XCTAssertEqual(stats.groupCount, 3)
        XCTAssertEqual(stats.predictions, out.logits.value.argmaxPerRow())
        for (j, g) in out.groups.enumerated() {
            let (n, c, h, w) = g.value.nchw
            XCTAssertEqual(stats.attention[j].shape, [n, h, w])
            let v = g.value.scalars, got = stats.attention[j].scalars
            for i in 0..<n {
                for p in 0..<(h * w) {
                    var s: Float = 0
                    for k in 0..<c { s += v[(i * c + k) * h * w + p] * v[(i * c + k) * h * w + p] }
                    XCTAssertEqual(got[i * h * w + p], s / Float(c), accuracy: 1e-4 * max(1, s / Float(c)), "group \(j) image \(i) cell \(p)")
                }
            }
        }
    }

    func testKeyRegionStatisticOfASyntheticMapFollowsTheDefinition() throws {
        // Map [1, 2, 3, 4], key region = the last two cells: mass inside 7 of 10 = 0.7 on half the
        // cells, so r = 0.7 / 0.5 = 1.4 = (mean inside 3.5) / (mean overall 2.5).
        let s = try XCTUnwrap(KeyRegionStatistics.statistic(attention: [1, 2, 3, 4], mask: [0, 0, 1, 1]))
        XCTAssertEqual(s.share, 0.7, accuracy: 1e-12)
        XCTAssertEqual(s.keyFraction, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.ratio, 1.4, accuracy: 1e-12)
        // Uniform attention has no preference, whatever the region; scaling the map changes nothing.
        XCTAssertEqual(try XCTUnwrap(KeyRegionStatistics.statistic(attention: [5, 5, 5, 5], mask: [1, 0, 0, 0])).ratio, 1, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(KeyRegionStatistics.statistic(attention: [10, 20, 30, 40], mask: [0, 0, 1, 1])).ratio, 1.4, accuracy: 1e-12)
        // Soft mask weights: a cell half in the key region counts half. (0.5·4) / 10 / (0.5 / 4) = 1.6.
        XCTAssertEqual(try XCTUnwrap(KeyRegionStatistics.statistic(attention: [1, 2, 3, 4], mask: [0, 0, 0, 0.5])).ratio, 1.6, accuracy: 1e-12)
        XCTAssertNil(KeyRegionStatistics.statistic(attention: [1, 2, 3, 4], mask: [0, 0, 0, 0]), "no key region: not counted")

        // Per image, then averaged; an image without a key region is skipped.
        let attention = Tensor(shape: [3, 2, 2], values: [1, 2, 3, 4, /**/ 1, 1, 1, 1, /**/ 4, 3, 2, 1])
        let masks = Tensor(shape: [3, 2, 2], values: [0, 0, 1, 1, /**/ 0, 0, 0, 0, /**/ 0, 0, 1, 1])
        let stats = ActivationStatistics(source: .clean(defense: "x"), attention: [attention], groupMasks: [masks], labels: [0, 0, 0],
                                         predictions: [0, 0, 0], inputHeight: 2, inputWidth: 2)
        let row = try XCTUnwrap(KeyRegionStatistics.row(stats))
        XCTAssertEqual(row.images, 2)
        XCTAssertEqual(row.ratio[0], (1.4 + 0.6) / 2, accuracy: 1e-12)   // second counted image: 0.3 / 0.5
    }

    func testMasksAreAreaAveragedToEachGroupsResolution() {
        // 4×4 → 2×2: the key top-left 2×2 block fills exactly the first cell.
        var m = [UInt8](repeating: 0, count: 16)
        for (y, x) in [(0, 0), (0, 1), (1, 0), (1, 1)] { m[y * 4 + x] = 1 }
        XCTAssertEqual(ActivationStatistics.resizeMask(m, count: 1, height: 4, width: 4, to: (2, 2)).scalars, [1, 0, 0, 0])
        // 3×3 → 2×2: cells of 1.5×1.5 pixels; only pixel (0, 0) is key and lies wholly in cell (0, 0): 1 / 2.25.
        // Pixel (1, 1) is shared by all four cells, a quarter of its area each: 0.25 / 2.25.
        var c = [UInt8](repeating: 0, count: 9)
        c[0] = 1
        XCTAssertEqual(ActivationStatistics.resizeMask(c, count: 1, height: 3, width: 3, to: (2, 2)).scalars[0], 1 / 2.25, accuracy: 1e-6)
        c = [UInt8](repeating: 0, count: 9)
        c[4] = 1
        for v in ActivationStatistics.resizeMask(c, count: 1, height: 3, width: 3, to: (2, 2)).scalars { XCTAssertEqual(v, 0.25 / 2.25, accuracy: 1e-6) }
    }

    func testLandscapeAtTheOriginIsTheModelsLossOnTheCleanInput() {
        let model = tinyModel(), data = images(3)
        let l = LossLandscape.compute(model, images: data.images, labels: data.labels, indices: [1, 2], defense: "none",
                                      configuration: LossLandscapeConfiguration(radius: 0.5, steps: 5, seed: 7, batchSize: 4))
        XCTAssertEqual(l.a, [-0.5, -0.25, 0, 0.25, 0.5])
        XCTAssertEqual(l.loss.shape, [2, 5, 5])
        for (k, index) in [1, 2].enumerated() {
            let x = data.images.rows(index..<(index + 1))
            // −log softmax(f(x))[y], from the logits of a plain forward pass.
            let clean = -forward(model, x).logits.value.logSoftmaxRows()[0, data.labels[index]]
            XCTAssertEqual(l.grid(k)[2, 2], clean, accuracy: 1e-5 * max(1, clean), "image \(index)")
            XCTAssertNotEqual(l.grid(k)[4, 2], clean, "moving along r1 changes the loss")
        }
        // Stepping along r1 = sign(∇x loss) first increases the loss (a small step, a linear model of it).
        let small = LossLandscape.compute(model, images: data.images, labels: data.labels, indices: [0], defense: "none",
                                          configuration: LossLandscapeConfiguration(radius: 0.002, steps: 3))
        XCTAssertGreaterThan(small.grid(0)[2, 1], small.grid(0)[1, 1])
    }

    func testActivationArtifactRoundTripsAndTheReportNeedsNoModel() throws {
        let dir = try temporaryDirectory()
        let store = try ArtifactStore(root: "\(dir)/store")
        let model = tinyModel(), data = images(4)
        var masks = [UInt8](repeating: 0, count: 4 * 64)
        for i in 0..<4 { for p in 0..<(16 * (i + 1)) { masks[i * 64 + p] = 1 } }   // top rows, growing per image
        let stats = ActivationStatistics.compute(model, on: data, source: .clean(defense: "AT+ALP", classNames: ["a", "b", "c"]),
                                                 masks: masks, subset: [3, 0], keepActivations: true, batchSize: 3)
        let id = try stats.put(in: store, metadata: ArtifactMetadata(kind: "ignored", parameters: ["note": .string("test")]))
        XCTAssertEqual(try store.metadata(of: id).kind, "activation-stats")
        let back = try ActivationStatistics.read(from: store.path(of: id))
        XCTAssertEqual(back.attention, stats.attention)
        XCTAssertEqual(back.groupMasks!, stats.groupMasks!)
        XCTAssertEqual(back.masks, masks)
        XCTAssertEqual(back.labels, data.labels)
        XCTAssertEqual(back.predictions, stats.predictions)
        XCTAssertEqual(back.subsetIndices, [3, 0])
        XCTAssertEqual(back.subsetImages, data.images.gatherRows([3, 0]))
        let out = forward(model, data.images)
        XCTAssertEqual(back.subsetActivations!.count, 3)
        for j in 0..<3 {
            let reference = out.groups[j].value.gatherRows([3, 0])
            for (u, v) in zip(back.subsetActivations![j].scalars, reference.scalars) { XCTAssertEqual(u, v, accuracy: 1e-4 * max(1, abs(v))) }
        }
        XCTAssertEqual(back.source, stats.source)

        let landscape = LossLandscape.compute(model, images: data.images, labels: data.labels, indices: [0], defense: "AT+ALP",
                                              configuration: LossLandscapeConfiguration(radius: 0.1, steps: 3))
        let lid = try landscape.put(in: store, metadata: ArtifactMetadata(kind: "loss-landscape"))
        XCTAssertEqual(try LossLandscape.read(lid, in: store).loss, landscape.loss)

        // Offline: from the files alone.
        let inputs = try AnalysisReport.load(paths: [store.path(of: id), store.path(of: lid)])
        let report = try AnalysisReport.write(inputs, to: "\(dir)/out")
        XCTAssertEqual(report.table.count, 1)
        XCTAssertEqual(report.table[0].ratio, try XCTUnwrap(KeyRegionStatistics.row(stats)).ratio)
        let csv = try String(contentsOfFile: "\(dir)/out/key-regions.csv", encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 2)
        XCTAssertTrue(csv.hasPrefix("defense,image_set,threat_model,epsilon,images,key_fraction,group0_ratio"))
        for name in ["analysis.md", "key-regions.md", "attention/image-0/at-alp-clean-input.png", "attention/image-3/at-alp-clean-group-2.png",
                     "landscapes/at-alp-image-0.svg"] {
            XCTAssertTrue(report.files.contains(name), "\(name) not in \(report.files)")
        }
        let png = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out/attention/image-0/at-alp-clean-group-0.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        let svg = try String(contentsOfFile: "\(dir)/out/landscapes/at-alp-image-0.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))

        XCTAssertThrowsError(try AnalysisReport.load(paths: ["\(dir)/nothing.h5"]))
    }

    /// The report's HTML from the analysis Markdown (through Ink): headings shifted, tables, images under a prefix.
    func testMarkdownPageRendersTheAnalysisMarkdown() {
        let md = "# Activation analysis\n\nMean `r` over **all** images & maps.\n\n| model | group-0 |\n|---|---:|\n"
            + "| AT+ALP | ![group-0](attention/a.png) |\n\n![Key regions](key-regions.svg) and [a page](https://example.org/x)\n"
        let html = MarkdownPage.html(md, linkPrefix: "analysis/", headingOffset: 1)
        XCTAssertTrue(html.hasPrefix("<h2>Activation analysis</h2>"), html)
        XCTAssertTrue(html.contains("<code>r</code>") && html.contains("<strong>all</strong>") && html.contains("&amp;"), html)
        XCTAssertTrue(html.contains("<table>") && html.contains("<th>model</th>") && html.contains("<td>AT+ALP</td>"), html)
        XCTAssertTrue(html.contains("<img src=\"analysis/attention/a.png\" alt=\"group-0\""), html)
        XCTAssertTrue(html.contains("<img src=\"analysis/key-regions.svg\""), html)
        XCTAssertTrue(html.contains("<a href=\"https://example.org/x\">"), "absolute links stay: \(html)")
    }
}
