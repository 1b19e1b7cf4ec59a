import Foundation
import Tensors

/// Figure 6 as SVG: a heat map of z(a, b) with contour lines, a colour bar and the clean point
/// (0, 0) marked. a runs left to right, b bottom to top.
public enum LandscapePlot {
    /// `grid` is A×B: grid[i, j] = z(a[i], b[j]).
    public static func svg(grid: Tensor, a: [Float], b: [Float], title: String, levels: Int = 10,
                           colorMap: ColorMap = .viridis) -> String {
        precondition(grid.rank == 2 && grid.shape == [a.count, b.count] && a.count >= 2 && b.count >= 2, "grid \(grid.shape) for \(a.count)×\(b.count) coordinates")
        let z = grid.scalars, (na, nb) = (a.count, b.count)
        let finite = z.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1, range = hi > lo ? hi - lo : 1
        let (left, top, size) = (60.0, 40.0, 320.0)
        let cw = size / Double(na), ch = size / Double(nb)
        func px(_ i: Double) -> Double { left + (i + 0.5) * cw }          // cell centre of index i along a
        func py(_ j: Double) -> Double { top + size - (j + 0.5) * ch }    // along b, upwards
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"480\" height=\"420\" viewBox=\"0 0 480 420\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"480\" height=\"420\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(left + size / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>\n"
        for i in 0..<na {
            for j in 0..<nb {
                let v = z[i * nb + j]
                s += "<rect x=\"\(f(left + Double(i) * cw))\" y=\"\(f(top + size - Double(j + 1) * ch))\" width=\"\(f(cw + 0.3))\" height=\"\(f(ch + 0.3))\" fill=\"\(v.isFinite ? colorMap.hex((v - lo) / range) : "#ff00ff")\"/>\n"
            }
        }
        // Contours by marching squares between cell centres.
        for level in 1...levels {
            let c = lo + range * Float(level) / Float(levels + 1)
            var path = ""
            for i in 0..<(na - 1) {
                for j in 0..<(nb - 1) {
                    let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
                    var crossings: [(Double, Double)] = []
                    for e in 0..<4 {
                        let (p, q) = (corners[e], corners[(e + 1) % 4])
                        let (vp, vq) = (z[p.0 * nb + p.1], z[q.0 * nb + q.1])
                        guard vp.isFinite, vq.isFinite, (vp < c) != (vq < c) else { continue }
                        let t = Double((c - vp) / (vq - vp))
                        crossings.append((px(Double(p.0) + t * Double(q.0 - p.0)), py(Double(p.1) + t * Double(q.1 - p.1))))
                    }
                    var k = 0
                    while k + 1 < crossings.count {
                        path += "M\(f(crossings[k].0)) \(f(crossings[k].1))L\(f(crossings[k + 1].0)) \(f(crossings[k + 1].1))"
                        k += 2
                    }
                }
            }
            if !path.isEmpty { s += "<path d=\"\(path)\" stroke=\"white\" stroke-opacity=\"0.7\" stroke-width=\"0.8\" fill=\"none\"/>\n" }
        }
        // The clean input (0, 0), where the coordinates hold it.
        if let i0 = a.firstIndex(of: 0), let j0 = b.firstIndex(of: 0) {
            let (x, y) = (px(Double(i0)), py(Double(j0)))
            s += "<path d=\"M\(f(x - 5)) \(f(y - 5))L\(f(x + 5)) \(f(y + 5))M\(f(x - 5)) \(f(y + 5))L\(f(x + 5)) \(f(y - 5))\" stroke=\"red\" stroke-width=\"2\"/>\n"
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(size))\" height=\"\(f(size))\" fill=\"none\" stroke=\"black\"/>\n"
        for (i, label) in [(0, a.first!), (na / 2, a[na / 2]), (na - 1, a.last!)] {
            s += "<text x=\"\(f(px(Double(i))))\" y=\"\(f(top + size + 16))\" text-anchor=\"middle\">\(formatNumber(Double(label)))</text>\n"
        }
        for (j, label) in [(0, b.first!), (nb / 2, b[nb / 2]), (nb - 1, b.last!)] {
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(py(Double(j)) + 4))\" text-anchor=\"end\">\(formatNumber(Double(label)))</text>\n"
        }
        s += "<text x=\"\(f(left + size / 2))\" y=\"\(f(top + size + 34))\" text-anchor=\"middle\">a (along r1 = sign ∇x loss)</text>\n"
        s += "<text transform=\"translate(18 \(f(top + size / 2))) rotate(-90)\" text-anchor=\"middle\">b (along r2, Rademacher)</text>\n"
        // Colour bar.
        let barX = left + size + 24
        for k in 0..<64 {
            let t = Float(k) / 63
            s += "<rect x=\"\(f(barX))\" y=\"\(f(top + size - Double(k + 1) * size / 64))\" width=\"14\" height=\"\(f(size / 64 + 0.3))\" fill=\"\(colorMap.hex(t))\"/>\n"
        }
        s += "<text x=\"\(f(barX + 18))\" y=\"\(f(top + size))\">\(String(format: "%.3g", lo))</text>\n"
        s += "<text x=\"\(f(barX + 18))\" y=\"\(f(top + 10))\">\(String(format: "%.3g", hi))</text>\n"
        s += "<text x=\"\(f(barX + 7))\" y=\"\(f(top - 8))\" text-anchor=\"middle\">loss</text>\n"
        return s + "</svg>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
