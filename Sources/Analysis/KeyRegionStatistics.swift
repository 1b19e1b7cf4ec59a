import Foundation
import Tensors

/// One row of Table 2: how strongly one model's attention falls on the key regions of one image set.
public struct KeyRegionRow: Sendable {
    public var source: ActivationSource
    /// Per group: the mean over images of the key-region attention ratio (1 = no preference).
    public var ratio: [Double]
    /// Per group: the mean over images of the share of the attention mass inside the key region.
    public var share: [Double]
    /// Mean over the same images of the key region's share of the pixels (what `share` is at ratio 1).
    public var keyFraction: Double
    /// Images counted: those with a non-empty key region.
    public var images: Int
}

/// Table 2 from activation artifacts alone.
///
/// The normalised activation in the key region of image i, group j, is
///
///     r = (Σ_p m_p·a_p / Σ_p a_p) / (Σ_p m_p / P)
///       = (mean attention inside the key region) / (mean attention over the whole map)
///
/// where a is the attention map F(A_j) (P cells) and m_p ∈ [0, 1] the share of cell p that is key
/// region (`ActivationStatistics.resizeMask`; the means are area-weighted with m). r is the share
/// of the attention mass that lands in the key region divided by the share it would get if attention
/// were spread evenly: 1 means no preference, 2 twice as dense on the key region as on average, and
/// the maximum 1/(key share) means all attention inside. It is computed per image, then averaged over
/// the images that have a key region (Σm > 0; images without a trimap are skipped) and a non-zero map.
///
/// Why this normalisation: (1) it is invariant to the map's scale — attention magnitudes differ by
/// orders of magnitude between defenses, groups and clean/adversarial inputs, so raw means would rank
/// models by activation size, not by where they look; (2) it corrects for the key region's size, so
/// an image whose flower fills the frame does not count as "attentive" by default and images weigh
/// equally; (3) per image, then averaged, so a few images with huge activations do not dominate.
public enum KeyRegionStatistics {
    /// (ratio, share, key fraction) of one map and its mask of equal size; nil when the mask is empty
    /// or the map is all zero.
    public static func statistic(attention a: UnsafeBufferPointer<Float>, mask m: UnsafeBufferPointer<Float>)
        -> (ratio: Double, share: Double, keyFraction: Double)? {
        precondition(a.count == m.count && a.count > 0, "map of \(a.count) cells with a mask of \(m.count)")
        var inside = 0.0, total = 0.0, key = 0.0
        for p in 0..<a.count {
            let v = Double(a[p]), w = Double(m[p])
            inside += w * v
            total += v
            key += w
        }
        guard key > 0, total > 0 else { return nil }
        let share = inside / total, keyFraction = key / Double(a.count)
        return (share / keyFraction, share, keyFraction)
    }

    /// The same for plain arrays (tests, small work).
    public static func statistic(attention: [Float], mask: [Float]) -> (ratio: Double, share: Double, keyFraction: Double)? {
        attention.withUnsafeBufferPointer { a in mask.withUnsafeBufferPointer { m in statistic(attention: a, mask: m) } }
    }

    /// The Table 2 row of one activation artifact; nil when it has no masks or no image has a key region.
    public static func row(_ stats: ActivationStatistics) -> KeyRegionRow? {
        guard let masks = stats.groupMasks else { return nil }
        let groups = stats.groupCount
        var ratio = [Double](repeating: 0, count: groups), share = ratio
        var keyFraction = 0.0
        var counted = 0
        for i in 0..<stats.count {
            // An image counts only when every group can measure it, so all columns average the same images.
            var values: [(ratio: Double, share: Double, keyFraction: Double)] = []
            for j in 0..<groups {
                let plane = stats.attention[j].shape[1] * stats.attention[j].shape[2]
                let v = stats.attention[j].withUnsafeBufferPointer { a in masks[j].withUnsafeBufferPointer { m in
                    statistic(attention: UnsafeBufferPointer(rebasing: a[(i * plane)..<((i + 1) * plane)]),
                              mask: UnsafeBufferPointer(rebasing: m[(i * plane)..<((i + 1) * plane)]))
                } }
                guard let v else { break }
                values.append(v)
            }
            guard values.count == groups else { continue }
            for j in 0..<groups { ratio[j] += values[j].ratio; share[j] += values[j].share }
            keyFraction += values[0].keyFraction
            counted += 1
        }
        guard counted > 0 else { return nil }
        let c = Double(counted)
        return KeyRegionRow(source: stats.source, ratio: ratio.map { $0 / c }, share: share.map { $0 / c },
                            keyFraction: keyFraction / c, images: counted)
    }

    /// Rows in the table's order: defense, then clean before adversarial, threat model, ε.
    public static func sorted(_ rows: [KeyRegionRow]) -> [KeyRegionRow] {
        rows.sorted { a, b in
            let ka = (a.source.defense, a.source.imageSet == "clean" ? 0 : 1, a.source.threatModel)
            let kb = (b.source.defense, b.source.imageSet == "clean" ? 0 : 1, b.source.threatModel)
            if ka != kb { return ka < kb }
            return a.source.epsilon < b.source.epsilon
        }
    }

    /// Table 2 as Markdown: the ratio per group (share of attention mass in brackets).
    public static func markdown(_ rows: [KeyRegionRow]) -> String {
        let groups = rows.map { $0.ratio.count }.max() ?? 0
        var lines = ["| defense | image set | threat model | ε | images | key area | " + (0..<groups).map { "group-\($0)" }.joined(separator: " | ") + " |",
                     "|---|---|---|---|---|---|" + String(repeating: "---|", count: groups)]
        for r in sorted(rows) {
            let cells = (0..<groups).map { j in
                j < r.ratio.count ? String(format: "%.3f (%.1f%%)", r.ratio[j], 100 * r.share[j]) : "" }
            lines.append("| \(r.source.defense) | \(r.source.imageSet) | \(r.source.threatModel.isEmpty ? "–" : r.source.threatModel) | "
                         + "\(r.source.imageSet == "clean" ? "–" : formatNumber(Double(r.source.epsilon))) | \(r.images) | "
                         + String(format: "%.1f%%", 100 * r.keyFraction) + " | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Table 2 as CSV: one line per row, ratio and share columns per group.
    public static func csv(_ rows: [KeyRegionRow]) -> String {
        let groups = rows.map { $0.ratio.count }.max() ?? 0
        var lines = [(["defense", "image_set", "threat_model", "epsilon", "images", "key_fraction"]
                      + (0..<groups).map { "group\($0)_ratio" } + (0..<groups).map { "group\($0)_share" }).joined(separator: ",")]
        func quoted(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        for r in sorted(rows) {
            let fields = [quoted(r.source.defense), r.source.imageSet, quoted(r.source.threatModel), formatNumber(Double(r.source.epsilon)),
                          "\(r.images)", String(format: "%.6f", r.keyFraction)]
                + (0..<groups).map { $0 < r.ratio.count ? String(format: "%.6f", r.ratio[$0]) : "" }
                + (0..<groups).map { $0 < r.share.count ? String(format: "%.6f", r.share[$0]) : "" }
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
