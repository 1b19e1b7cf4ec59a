import Foundation

/// Table 2 as an SVG bar chart: one cluster per group, one bar per row (a defense on clean or
/// adversarial images), with a dashed line at 1, the no-preference level.
public enum KeyRegionChart {
    public static func svg(_ rows: [KeyRegionRow], colorMap: ColorMap = .viridis) -> String {
        let rows = KeyRegionStatistics.sorted(rows)
        let groups = rows.map { $0.ratio.count }.max() ?? 0
        precondition(!rows.isEmpty && groups > 0, "a chart needs at least one row")
        let (left, top, plotH) = (50.0, 30.0, 220.0)
        let bar = 14.0, gap = 18.0
        let clusterW = Double(rows.count) * bar + gap
        let plotW = Double(groups) * clusterW
        let legendTop = top + plotH + 40
        let width = max(460, left + plotW + 20), height = legendTop + Double(rows.count) * 16 + 10
        let maxValue = max(1.2, (rows.flatMap(\.ratio).max() ?? 1) * 1.1)
        func y(_ v: Double) -> Double { top + plotH - v / maxValue * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func color(_ r: Int) -> String { colorMap.hex(rows.count == 1 ? 0.5 : Float(r) / Float(rows.count - 1) * 0.9) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"\(f(width))\" height=\"\(f(height))\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(left))\" y=\"18\" font-size=\"13\">Attention in the key region ÷ mean attention (1 = no preference)</text>\n"
        for k in 0...4 {
            let v = maxValue * Double(k) / 4
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(String(format: "%.2f", v))</text>\n"
        }
        for j in 0..<groups {
            let x0 = left + Double(j) * clusterW + gap / 2
            for (r, row) in rows.enumerated() where j < row.ratio.count {
                let v = row.ratio[j]
                s += "<rect x=\"\(f(x0 + Double(r) * bar))\" y=\"\(f(y(v)))\" width=\"\(f(bar - 2))\" height=\"\(f(y(0) - y(v)))\" fill=\"\(color(r))\"><title>\(LandscapePlot.escape(row.source.label)): \(String(format: "%.3f", v))</title></rect>\n"
            }
            s += "<text x=\"\(f(x0 + Double(rows.count) * bar / 2))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">group-\(j)</text>\n"
        }
        s += "<path d=\"M\(f(left)) \(f(y(1)))L\(f(left + plotW)) \(f(y(1)))\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n"
        s += "<path d=\"M\(f(left)) \(f(top))L\(f(left)) \(f(y(0)))L\(f(left + plotW)) \(f(y(0)))\" stroke=\"black\" fill=\"none\"/>\n"
        for (r, row) in rows.enumerated() {
            let ly = legendTop + Double(r) * 16
            s += "<rect x=\"\(f(left))\" y=\"\(f(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(color(r))\"/>\n"
            s += "<text x=\"\(f(left + 16))\" y=\"\(f(ly))\">\(LandscapePlot.escape(row.source.label)) (\(row.images) images)</text>\n"
        }
        return s + "</svg>\n"
    }
}
