import Foundation
import Store
import Tensors

/// The analyze stage's products from saved artifacts alone — no model, no data set:
///
///     out/analysis.md, .html     Table 2, Figure 4 and Figure 6 in one page
///     out/key-regions.md, .csv, .svg   Table 2 and its bar chart (when any activation artifact has masks)
///     out/attention/image-<i>/…  Figure 4 panels (PNG)
///     out/landscapes/<defense>-image-<i>.svg   Figure 6 (SVG)
///
///     let outputs = try AnalysisReport.write(activations: stats, landscapes: landscapes, to: "out")
public enum AnalysisReport {
    public struct Outputs: Sendable {
        /// Files written, relative to the output directory.
        public var files: [String]
        /// Table 2's rows (empty when no artifact had masks).
        public var table: [KeyRegionRow]
        /// The whole report page (what `analysis.md` holds).
        public var markdown: String
    }

    /// The style of the HTML page (also used where a report embeds it).
    public static let pageStyle = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        + "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:center}"
        + "th{background:#eee}img{max-width:100%}"

    /// Artifacts read from files or a store, sorted by kind.
    public struct Inputs {
        public var activations: [ActivationStatistics] = []
        public var landscapes: [LossLandscape] = []
        public init(activations: [ActivationStatistics] = [], landscapes: [LossLandscape] = []) {
            self.activations = activations
            self.landscapes = landscapes
        }
    }

    /// Reads each HDF5 file by its `kind` ("activation-stats" or "loss-landscape"); other kinds are an error.
    public static func load(paths: [String]) throws -> Inputs {
        var inputs = Inputs()
        for path in paths {
            let kind = try HDF5File.read(from: path) { try $0.attribute("kind")?.stringValue }
            switch kind {
            case ActivationStatistics.kind?: inputs.activations.append(try ActivationStatistics.read(from: path))
            case LossLandscape.kind?: inputs.landscapes.append(try LossLandscape.read(from: path))
            default:
                throw AnalysisError(path: path, "artifact kind '\(kind ?? "none")' cannot be analysed: expected "
                                    + "'\(ActivationStatistics.kind)' or '\(LossLandscape.kind)'")
            }
        }
        return inputs
    }

    /// Writes Table 2, Figure 4 and Figure 6 under `directory` (created if needed).
    /// - Parameter figureImages: test images for Figure 4 (default: every index in the artifacts' subsets).
    public static func write(_ inputs: Inputs, to directory: String, figureImages: [Int]? = nil) throws -> Outputs {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var files: [String] = []
        var md = "# Activation analysis\n\n"
        func save(_ text: String, _ name: String) throws {
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(name)"), options: .atomic) } catch {
                throw AnalysisError(path: "\(directory)/\(name)", "cannot write: \(error.localizedDescription)")
            }
            files.append(name)
        }

        let table = inputs.activations.compactMap(KeyRegionStatistics.row)
        md += "## Key-region attention (Table 2)\n\n"
        if table.isEmpty {
            md += "No activation artifact has key-region masks.\n\n"
        } else {
            let tableMarkdown = KeyRegionStatistics.markdown(table)
            try save(tableMarkdown, "key-regions.md")
            try save(KeyRegionStatistics.csv(table), "key-regions.csv")
            try save(KeyRegionChart.svg(table), "key-regions.svg")
            md += "Each cell: the mean over test images of (mean attention inside the key region) / (mean attention over the "
                + "map) — 1 means no preference — and, in brackets, the share of the attention mass inside the key region. "
                + "`key area`: the key region's mean share of the pixels. Also in `key-regions.csv`.\n\n" + tableMarkdown
                + "\n![Key-region attention per group](key-regions.svg)\n\n"
        }

        md += "## Attention maps (Figure 4)\n\n"
        if inputs.activations.isEmpty {
            md += "No activation artifacts.\n\n"
        } else {
            let figure = try AttentionFigure.render(inputs.activations, to: directory, images: figureImages)
            files += figure.files
            md += figure.markdown.isEmpty ? "No images chosen.\n\n" : "Each map scaled to its own range (viridis: dark low, yellow high).\n\n" + figure.markdown
        }

        md += "## Loss landscapes (Figure 6)\n\n"
        if inputs.landscapes.isEmpty {
            md += "No loss-landscape artifacts.\n\n"
        } else {
            try FileManager.default.createDirectory(atPath: "\(directory)/landscapes", withIntermediateDirectories: true)
            md += "z = loss(x + a·r1 + b·r2), r1 = sign(∇x loss), r2 Rademacher; the red cross is the clean input (0, 0).\n\n"
            var used: Set<String> = []
            for l in inputs.landscapes.sorted(by: { $0.defense < $1.defense }) {
                for k in 0..<l.labels.count {
                    var name = "landscapes/\(AttentionFigure.slug(l.defense))-image-\(l.indices[k]).svg", n = 2
                    while used.contains(name) { name = "landscapes/\(AttentionFigure.slug(l.defense))-image-\(l.indices[k])-\(n).svg"; n += 1 }
                    used.insert(name)
                    let label = l.classNames.indices.contains(l.labels[k]) ? l.classNames[l.labels[k]] : "\(l.labels[k])"
                    let title = "\(l.defense): test image \(l.indices[k]) (\(label))"
                    try save(LandscapePlot.svg(grid: l.grid(k), a: l.a, b: l.b, title: title), name)
                    md += "![\(title)](\(name))\n\n"
                }
            }
        }
        try save(md, "analysis.md")
        try save("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Activation analysis</title>\n<style>" + pageStyle
                 + "</style></head><body>\n" + MarkdownPage.html(md) + "</body></html>\n", "analysis.html")
        return Outputs(files: files, table: table, markdown: md)
    }
}
