import Foundation
import Tensors

/// Figure 4: for each chosen test image, one row per activation artifact (a defense on clean or
/// adversarial images) holding that artifact's input image and the attention map of every group,
/// as separate PNG panels plus a Markdown grid whose captions give the predicted and true labels.
///
/// Maps are drawn with the viridis colour map, each scaled by its own minimum and maximum (the
/// figure shows where a map looks, not how strongly: Table 2 compares strengths), upsampled
/// bilinearly to `mapSize` pixels. Input images are enlarged by pixel replication.
public enum AttentionFigure {
    /// Writes the panels under `directory/attention/` and returns the Markdown (image paths relative
    /// to `directory`). The figure's rows are the artifacts that kept a subset of images (the others
    /// serve Table 2 only). `images` defaults to every index in those subsets; a row draws its maps
    /// for any index (maps are stored for all images) and its input image where its subset has it.
    public static func render(_ stats: [ActivationStatistics], to directory: String, images: [Int]? = nil,
                              mapSize: Int = 112) throws -> (markdown: String, files: [String]) {
        let ordered = stats.filter { !$0.subsetIndices.isEmpty }.sorted { a, b in
            (a.source.imageSet == "clean" ? 0 : 1, a.source.defense, a.source.threatModel, a.source.epsilon)
                < (b.source.imageSet == "clean" ? 0 : 1, b.source.defense, b.source.threatModel, b.source.epsilon)
        }
        let indices = images ?? Array(Set(stats.flatMap(\.subsetIndices))).sorted()
        var slugs: [String] = []
        for s in ordered {
            var slug = Self.slug(s.source.label), k = 2
            while slugs.contains(slug) { slug = Self.slug(s.source.label) + "-\(k)"; k += 1 }
            slugs.append(slug)
        }
        var files: [String] = []
        var md = ""
        for i in indices {
            let rows = ordered.indices.filter { i < ordered[$0].count }
            guard !rows.isEmpty else { continue }
            let folder = "attention/image-\(i)"
            try FileManager.default.createDirectory(atPath: "\(directory)/\(folder)", withIntermediateDirectories: true)
            let first = ordered[rows[0]]
            let groups = rows.map { ordered[$0].groupCount }.max()!
            md += "### Test image \(i) (true label: \(first.source.className(first.labels[i])))\n\n"
            md += "| model, images | prediction | input | " + (0..<groups).map { "group-\($0)" }.joined(separator: " | ") + " |\n"
            md += "|---|---|---|" + String(repeating: "---|", count: groups) + "\n"
            for r in rows {
                let s = ordered[r], slug = slugs[r]
                var cells = [s.source.label, s.source.className(s.predictions[i]) + (s.predictions[i] == s.labels[i] ? " ✓" : " ✗")]
                if let k = s.subsetIndices.firstIndex(of: i), let subset = s.subsetImages {
                    let name = "\(folder)/\(slug)-input.png"
                    let image = subset.rows(k..<(k + 1))
                    try RGBImage(image: image, scale: max(1, mapSize / max(s.inputHeight, 1))).writePNG(to: "\(directory)/\(name)")
                    files.append(name)
                    cells.append("![input](\(name))")
                } else {
                    cells.append("–")
                }
                for j in 0..<groups {
                    guard j < s.groupCount else { cells.append(""); continue }
                    let name = "\(folder)/\(slug)-group-\(j).png"
                    try RGBImage(map: s.map(group: j, image: i), size: mapSize).writePNG(to: "\(directory)/\(name)")
                    files.append(name)
                    cells.append("![group-\(j)](\(name))")
                }
                md += "| " + cells.joined(separator: " | ") + " |\n"
            }
            md += "\n"
        }
        return (md, files)
    }

    /// "AT+ALP, gray-box ε=0.25" → "at-alp-gray-box-eps-0.25".
    static func slug(_ text: String) -> String {
        var out = ""
        for ch in text.replacingOccurrences(of: "ε=", with: "eps-").lowercased() {
            if ch.isLetter && ch.isASCII || ch.isNumber && ch.isASCII || ch == "." { out.append(ch) }
            else if !out.hasSuffix("-") { out.append("-") }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "model" : out
    }
}
