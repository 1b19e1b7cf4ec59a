import Analysis
import Foundation
import Robustness

/// The report of a pipeline run: the paper's Table 1 (rows: defenses; columns: threat model × ε,
/// accuracy after the full attack) and Figure 3 (accuracy against PGD iterations, one line per
/// defense, one chart per threat model × ε), as Markdown, CSV, SVG and one HTML page.
public struct Report: Sendable {
    /// One row source: a model under evaluation, with its evaluations under each attack.
    /// With several training seeds, one row holds every seed's evaluations.
    public struct Row: Sendable {
        /// The row's model name (`ModelSpec.row`).
        public var model: String
        public var label: String
        public var defense: String
        public var attack: String
        /// Sanity checks of every seed.
        public var checks: [SanityCheck]
        /// For an attack ensemble: white-box row (`white-box@0.1`) → each member's share (first seed).
        public var ensembleStages: [String: [EnsembleResult.Stage]] = [:]
        /// The training seeds, and each one's evaluations in that order.
        public var seeds: [UInt64]
        public var replicates: [[AttackEvaluation]]
        /// The first seed's evaluations (the gradient-masking verdict reads these).
        public var evaluations: [AttackEvaluation] { replicates[0] }

        /// `evaluations`: the first seed's; `replicates` (default `[evaluations]`): every seed's, first included.
        public init(model: String, label: String, defense: String, attack: String, evaluations: [AttackEvaluation],
                    checks: [SanityCheck], ensembleStages: [String: [EnsembleResult.Stage]] = [:], seeds: [UInt64] = [0],
                    replicates: [[AttackEvaluation]]? = nil) {
            self.model = model; self.label = label; self.defense = defense; self.attack = attack
            self.checks = checks; self.ensembleStages = ensembleStages
            self.replicates = replicates ?? [evaluations]
            self.seeds = seeds
            precondition(self.replicates.count == seeds.count, "Report.Row: one evaluation list per seed")
        }
    }

    public var title: String
    public var pipeline: String
    public var rows: [Row]
    /// Lines about the run (data set, models) shown under the title.
    public var notes: [String]
    /// The activation analysis (Table 2, Figures 4 and 6), whose files lie under `analysis/`.
    public var analysis: AnalysisSection?
    /// The model every other defense is compared with, image by image (default: the first PAT row).
    public var reference: String?
    /// Warnings about training shown first, in bold and red: catastrophic overfitting of fast-trained
    /// models (`CatastrophicOverfitting.warning`).
    public var trainingWarnings: [String] = []

    public struct AnalysisSection: Sendable {
        /// `analysis/analysis.md`: its links are relative to `analysis/`.
        public var markdown: String
        /// Table 2 in Markdown ("" when no image set had key-region masks).
        public var keyRegionTable: String
    }

    public init(title: String, pipeline: String, rows: [Row], notes: [String], analysis: AnalysisSection? = nil) {
        self.title = title
        self.pipeline = pipeline
        self.rows = rows
        self.notes = notes
        self.analysis = analysis
    }

    /// Every file of the report by name.
    public func files() -> [String: String] {
        var files: [String: String] = [:]
        var markdown = "# \(title)\n\n"
        for note in notes { markdown += "\(note)  \n" }
        markdown += "\n"
        if !trainingWarnings.isEmpty {
            markdown += "## Training warnings\n\n" + trainingWarnings.map { "- **\($0)**\n" }.joined() + "\n"
        }
        var html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>\(escape(title))</title>\n"
            + "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}"
            + "td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}th{background:#eee}td:first-child{text-align:left}"
            + ".warn{color:#a00}.charts{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>\n"
            + "<h1>\(escape(title))</h1>\n<p>\(notes.map(escape).joined(separator: "<br>"))</p>\n"
            + (trainingWarnings.isEmpty ? ""
               : "<h2 class=\"warn\">Training warnings</h2>\n<ul>" + trainingWarnings.map { "<li class=\"warn\"><b>\(escape($0))</b></li>" }.joined() + "</ul>\n")
        var table1CSV = "attack,model,defense,threat_model,epsilon,iterations,accuracy,clean_accuracy,examples,ci95_low,ci95_high,seed\n"
        var summaryCSV = "attack,model,defense,threat_model,epsilon,iterations,examples,seeds,mean,sd,min,max,ci95_low,ci95_high,interval,clean_mean\n"
        var resultsCSV = "attack,model,defense,threat_model,epsilon,step_size,restarts,examples,iterations,accuracy,seed\n"
        for attack in attacks {
            let rows = self.rows.filter { $0.attack == attack }
            let columns = self.columns(rows)
            // Table 1
            markdown += "## Table 1 — \(attack): accuracy (%) after the full attack\n\n"
            let iterations = rows.flatMap { $0.evaluations.map { $0.iterations.last ?? 0 } }.max() ?? 0
            let examples = rows.flatMap { $0.evaluations.map(\.examples) }.max() ?? 0
            let seeds = rows.map(\.seeds.count).max() ?? 1
            markdown += "Top-1 accuracy on adversarial test images, \(iterations) iterations; rows: defenses, columns: threat model × ε. "
            if seeds == 1 {
                markdown += "Each cell: accuracy and its 95 % Wilson interval over the \(examples) test images (one training seed: the interval is "
                    + "the test-set sampling error only).\n\n"
            } else {
                markdown += "Each cell over the training seeds of its row (up to \(seeds); a row's seeds are listed under the title): "
                    + "mean ± standard deviation (min–max) [95 % interval of the two-stage bootstrap over seeds × the \(examples) test images, "
                    + "which holds both the seed-to-seed and the test-sample variation; with few seeds it understates the seed part, "
                    + "so read it with the spread].\n\n"
            }
            markdown += "| defense | seeds | clean | " + columns.map { "\($0.threat.rawValue) ε=\(format($0.epsilon))" }.joined(separator: " | ") + " |\n"
            markdown += "|---|---:|---:|" + String(repeating: "---:|", count: columns.count) + "\n"
            html += "<h2>Table 1 — \(escape(attack)): accuracy (%) after the full attack (\(iterations) iterations)</h2>\n<table><tr><th>defense</th><th>seeds</th><th>clean</th>"
                + columns.map { "<th>\($0.threat.rawValue)<br>ε=\(format($0.epsilon))</th>" }.joined() + "</tr>\n"
            for row in rows {
                var cells: [String] = []
                for column in columns {
                    let summary = row.summary(column.threat, column.epsilon)
                    cells.append(summary?.text ?? "–")
                    for (seed, e) in zip(row.seeds, row.replicates.map { $0.first { $0.threatModel == column.threat && $0.epsilon == column.epsilon } }) {
                        guard let e else { continue }
                        table1CSV += "\(csv(attack)),\(csv(row.model)),\(csv(row.defense)),\(e.threatModel.rawValue),\(format(e.epsilon)),"
                            + "\(e.iterations.last ?? 0),\(e.finalAccuracy),\(e.cleanAccuracy),\(e.examples),\(e.finalInterval.low),\(e.finalInterval.high),\(seed)\n"
                    }
                    if let summary, let e = row.evaluations.first(where: { $0.threatModel == column.threat && $0.epsilon == column.epsilon }) {
                        let clean = row.summary(column.threat, column.epsilon, clean: true)
                        summaryCSV += "\(csv(attack)),\(csv(row.model)),\(csv(row.defense)),\(e.threatModel.rawValue),\(format(e.epsilon)),"
                            + "\(e.iterations.last ?? 0),\(e.examples),\(summary.spread.seeds),\(summary.spread.mean),\(summary.spread.standardDeviation),"
                            + "\(summary.spread.minimum),\(summary.spread.maximum),\(summary.interval.low),\(summary.interval.high),\(summary.method),"
                            + "\(clean.map { "\($0.spread.mean)" } ?? "")\n"
                    }
                }
                let cleanCell = row.evaluations.first.flatMap { row.summary($0.threatModel, $0.epsilon, clean: true)?.text }
                let seedList = row.seeds.map(String.init).joined(separator: ", ")
                markdown += "| \(row.label) | \(seedList) | \(cleanCell ?? "–") | " + cells.joined(separator: " | ") + " |\n"
                html += "<tr><td>\(escape(row.label))</td><td>\(seedList)</td><td>\(cleanCell ?? "–")</td>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
                for (seed, evaluations) in zip(row.seeds, row.replicates) {
                    for e in evaluations {
                        for (k, a) in zip(e.iterations, e.accuracies) {
                            resultsCSV += "\(csv(attack)),\(csv(row.model)),\(csv(row.defense)),\(e.threatModel.rawValue),\(format(e.epsilon)),"
                                + "\(format(e.stepSize)),\(e.restarts),\(e.examples),\(k),\(a),\(seed)\n"
                        }
                    }
                }
            }
            markdown += "\n"
            html += "</table>\n"
            let comparison = PairedComparisons(rows: rows, columns: columns, reference: reference)
            markdown += comparison.markdown(attack: attack)
            html += MarkdownPage.html(comparison.markdown(attack: attack))
            // Figure 3
            markdown += "## Figure 3 — \(attack): accuracy against attack iterations\n\n"
            html += "<h2>Figure 3 — \(escape(attack)): accuracy against attack iterations</h2>\n<div class=\"charts\">\n"
            for column in columns {
                let name = "figure3-\(attack)-\(column.threat.rawValue)-eps\(format(column.epsilon)).svg"
                // One line per defense: the mean over its seeds after each count, its 95 % interval as the band.
                let matching = rows.compactMap { row in
                    row.evaluations.first(where: { $0.threatModel == column.threat && $0.epsilon == column.epsilon }).map { e in
                        (row.label, e.iterations.indices.compactMap { k in row.summary(column.threat, column.epsilon, iteration: k).map { (e.iterations[k], $0) } })
                    }
                }
                let lines = matching.map { label, points in (label, points.map { ($0.0, Float($0.1.spread.mean)) }) }
                let bands = matching.map { _, points in points.map { (Float($0.1.interval.low), Float($0.1.interval.high)) } }
                let svg = Self.chart(title: "\(column.threat.rawValue), ε = \(format(column.epsilon))", lines: lines, bands: bands)
                files[name] = svg
                markdown += "![\(column.threat.rawValue) ε=\(format(column.epsilon))](\(name))\n"
                html += "<div>\(svg)</div>\n"
            }
            markdown += "\n"
            html += "</div>\n"
            // Sanity checks (the gradient-masking signs)
            let warnings = rows.flatMap { row in SanityChecks.warnings(row.checks).map { "\(row.label): \($0)" } }
            let checked = rows.reduce(0) { $0 + $1.checks.count }
            markdown += "### Sanity checks — \(attack)\n\n"
            html += "<h3>Sanity checks — \(escape(attack))</h3>\n"
            if warnings.isEmpty {
                markdown += "All \(checked) checks passed (accuracy falls with iterations and with ε; white-box at least as strong as transfer).\n\n"
                html += "<p>All \(checked) checks passed.</p>\n"
            } else {
                for w in warnings { markdown += "- **\(w)**\n" }
                markdown += "\n"
                html += "<ul>" + warnings.map { "<li class=\"warn\">\(escape($0))</li>" }.joined() + "</ul>\n"
            }
        }
        // Gradient-masking verdict: PGD's white-box number against an attack ensemble's, per model and ε.
        let verdicts = self.verdicts()
        if !verdicts.isEmpty {
            let examples = rows.flatMap { $0.evaluations.map(\.examples) }.max() ?? 0
            markdown += "## Gradient-masking verdict\n\n"
                + "On \(examples) test images: a gap of 3 points has a sampling error of its own "
                + String(format: "(the 95 %% Wilson half-width of a 50 %% accuracy is %.1f points).\n\n",
                         100 * (ConfidenceInterval.wilson(proportion: 0.5, trials: max(examples, 1)).high - 0.5))
                + verdicts.map { "- \($0.severity == .ok ? "" : "**")\($0.message)\($0.severity == .ok ? "" : "**")" }.joined(separator: "\n") + "\n\n"
            html += "<h2>Gradient-masking verdict</h2><ul>" + verdicts.map { "<li\($0.severity == .ok ? "" : " class=\"warn\"")>\(escape($0.message))</li>" }.joined() + "</ul>\n"
        }
        if let analysis {
            markdown += "## Activation analysis\n\nTable 2 (key-region attention), Figure 4 (attention maps) and Figure 6 (loss landscapes): "
                + "[analysis/analysis.md](analysis/analysis.md) ([HTML](analysis/analysis.html)).\n\n" + analysis.keyRegionTable + "\n"
            html += MarkdownPage.html(analysis.markdown, linkPrefix: "analysis/", headingOffset: 1)
        }
        html += "<p>Data: <a href=\"table1.csv\">table1.csv</a> (one line per seed), <a href=\"table1-summary.csv\">table1-summary.csv</a> (over seeds), <a href=\"results.csv\">results.csv</a>, <a href=\"report.md\">report.md</a></p>\n</body></html>\n"
        files["report.md"] = markdown
        files["index.html"] = html
        files["table1.csv"] = table1CSV
        files["table1-summary.csv"] = summaryCSV
        files["results.csv"] = resultsCSV
        return files
    }

    /// One verdict per model and ε that has both a PGD white-box evaluation and an ensemble's.
    func verdicts() -> [GradientMaskingVerdict] {
        var out: [GradientMaskingVerdict] = []
        for ensembleRow in rows where !ensembleRow.ensembleStages.isEmpty {
            for e in ensembleRow.evaluations where e.threatModel == .whiteBox {
                guard let stages = ensembleRow.ensembleStages["white-box@\(Double(e.epsilon))"] ?? ensembleRow.ensembleStages.first(where: {
                    Float(Double($0.key.split(separator: "@").last ?? "") ?? -1) == e.epsilon })?.value else { continue }
                // The strongest PGD white-box number at this ε (with EOT, where a PGD attack without it also ran).
                let pgd = rows.filter { $0.model == ensembleRow.model && $0.ensembleStages.isEmpty }
                    .flatMap { row in row.evaluations.filter { $0.threatModel == .whiteBox && $0.epsilon == e.epsilon }.map { (row.attack, $0) } }
                    .min { $0.1.finalAccuracy < $1.1.finalAccuracy }
                guard let (attack, evaluation) = pgd else { continue }
                // The ensemble's number as evaluated: for a randomised model the mean over inference draws.
                let seed = ensembleRow.seeds.count > 1 ? ", seed \(ensembleRow.seeds[0]) of \(ensembleRow.seeds.count)" : ""
                out.append(GradientMaskingVerdict(defense: "\(ensembleRow.label) (ε=\(format(e.epsilon))\(seed))", cleanAccuracy: evaluation.cleanAccuracy,
                                                  pgdRobustAccuracy: evaluation.finalAccuracy,
                                                  pgdName: "PGD-\(evaluation.iterations.last ?? 0) (\(attack))", stages: stages,
                                                  ensembleAccuracy: e.finalAccuracy))
            }
        }
        return out
    }

    var attacks: [String] {
        var seen: [String] = []
        for r in rows where !seen.contains(r.attack) { seen.append(r.attack) }
        return seen
    }

    func columns(_ rows: [Row]) -> [(threat: ThreatModel, epsilon: Float)] {
        var columns: [(threat: ThreatModel, epsilon: Float)] = []
        for threat in ThreatModel.allCases {
            let epsilons = Set(rows.flatMap { $0.evaluations.filter { $0.threatModel == threat }.map(\.epsilon) }).sorted()
            columns += epsilons.map { (threat, $0) }
        }
        return columns
    }

    /// An SVG line chart: accuracy (0–100 %) against iterations, one line and legend entry per series.
    /// `bands[i][j]`, when given: the 95 % interval (low, high) of line i's point j, drawn as a shaded band.
    static func chart(title: String, lines: [(String, [(Int, Float)])], bands: [[(Float, Float)]] = [], width: Double = 420,
                      height: Double = 300) -> String {
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        let left = 48.0, right = 130.0, top = 28.0, bottom = 40.0
        let plotW = width - left - right, plotH = height - top - bottom
        let maxX = Double(max(lines.flatMap { $0.1.map(\.0) }.max() ?? 1, 1))
        func x(_ k: Int) -> Double { left + plotW * Double(k) / maxX }
        func y(_ a: Float) -> Double { top + plotH * (1 - Double(a)) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">\(escape(title))</text>\n"
        for tick in stride(from: 0, through: 100, by: 20) {
            let ty = y(Float(tick) / 100)
            s += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(left + plotW))\" y2=\"\(f(ty))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(ty + 4))\" text-anchor=\"end\">\(tick)</text>\n"
        }
        let ticks = Array(Set(lines.flatMap { $0.1.map(\.0) })).sorted()
        for k in ticks {
            s += "<text x=\"\(f(x(k)))\" y=\"\(f(top + plotH + 14))\" text-anchor=\"middle\">\(k)</text>\n"
        }
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"#333\"/>"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">PGD iterations</text>\n"
        s += "<text transform=\"translate(12 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">accuracy (%)</text>\n"
        for (i, line) in lines.enumerated() where i < bands.count && bands[i].count == line.1.count {
            let upper = zip(line.1, bands[i]).map { "\(f(x($0.0.0))),\(f(y($0.1.1)))" }
            let lower = zip(line.1, bands[i]).reversed().map { "\(f(x($0.0.0))),\(f(y($0.1.0)))" }
            s += "<polygon fill=\"\(colors[i % colors.count])\" fill-opacity=\"0.12\" stroke=\"none\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
        }
        for (i, line) in lines.enumerated() {
            let color = colors[i % colors.count]
            let points = line.1.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            for (k, a) in line.1 { s += "<circle cx=\"\(f(x(k)))\" cy=\"\(f(y(a)))\" r=\"2.5\" fill=\"\(color)\"/>" }
            let ly = top + 8 + Double(i) * 16
            s += "\n<line x1=\"\(f(width - right + 10))\" y1=\"\(f(ly))\" x2=\"\(f(width - right + 28))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            s += "<text x=\"\(f(width - right + 32))\" y=\"\(f(ly + 4))\">\(escape(line.0))</text>\n"
        }
        return s + "</svg>\n"
    }
}

private func f(_ v: Double) -> String { String(format: "%.1f", v) }
func format(_ x: Float) -> String { String(format: "%g", Double(x)) }
func percent(_ x: Float) -> String { String(format: "%.1f", Double(100 * x)) }
/// "63.5 (56.6–69.9)": an accuracy and its interval, in percent.
func withInterval(_ x: Float, _ ci: ConfidenceInterval) -> String {
    String(format: "%.1f (%.1f–%.1f)", Double(100 * x), 100 * ci.low, 100 * ci.high)
}
func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        .replacingOccurrences(of: "\"", with: "&quot;")
}
private func csv(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"\(s.replacingOccurrences(of: "\"", with: "\"\""))\"" : s }
