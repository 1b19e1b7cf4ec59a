import XCTest
@testable import Pipeline
import Robustness

/// Every accuracy in the report carries its interval, and each defense is compared with the
/// reference image by image (exact McNemar, Holm-corrected).
final class ReportUncertaintyTests: XCTestCase {
    /// Two deterministic defenses on 40 images: `pat` right on the first 20, `atalp` on the first 30
    /// (10 discordant examples, all in favour of atalp: McNemar p = 2·0.5¹⁰ = 0.001953125).
    func rows() -> [Report.Row] {
        func row(_ model: String, _ label: String, _ defense: String, right: Int) -> Report.Row {
            let outcomes = (0..<40).map { Float($0 < right ? 1 : 0) }
            let e = AttackEvaluation(threatModel: .whiteBox, epsilon: 0.1, stepSize: 0.02, restarts: 1, iterations: [10],
                                     accuracies: [Float(right) / 40], cleanAccuracy: 0.9, examples: 40, perImage: [outcomes],
                                     cleanPerImage: (0..<40).map { Float($0 < 36 ? 1 : 0) })
            return Report.Row(model: model, label: label, defense: defense, attack: "pgd", evaluations: [e], checks: [])
        }
        return [row("pat", "PAT", "pat", right: 20), row("atalp", "AT+ALP", "atalp", right: 30)]
    }

    func testTableOneCellsCarryWilsonIntervals() {
        let md = Report(title: "t", pipeline: "p", rows: rows(), notes: []).files()["report.md"]!
        let ci = ConfidenceInterval.wilson(successes: 20, trials: 40)
        XCTAssertTrue(md.contains(String(format: "50.0 (%.1f–%.1f)", 100 * ci.low, 100 * ci.high)), md)
        XCTAssertTrue(md.contains("95 % Wilson interval over the 40 test images"), md)
        let csv = Report(title: "t", pipeline: "p", rows: rows(), notes: []).files()["table1.csv"]!
        XCTAssertTrue(csv.hasPrefix("attack,model,defense,threat_model,epsilon,iterations,accuracy,clean_accuracy,examples,ci95_low,ci95_high"))
    }

    func testPairedComparisonWithPATUsesExactMcNemar() {
        let comparison = PairedComparisons(rows: rows(), columns: [(.whiteBox, 0.1)], reference: nil)
        XCTAssertEqual(comparison.referenceLabel, "PAT")
        XCTAssertEqual(comparison.comparisons.count, 1)
        let c = comparison.comparisons[0]
        XCTAssertEqual(c.difference, 0.25, accuracy: 1e-12)
        XCTAssertEqual(c.pValue, 0.001953125, accuracy: 1e-12)
        XCTAssertEqual(c.adjusted, c.pValue, accuracy: 1e-12, "one comparison: Holm changes nothing")
        XCTAssertGreaterThan(c.interval.low, 0)
        let md = Report(title: "t", pipeline: "p", rows: rows(), notes: []).files()["report.md"]!
        XCTAssertTrue(md.contains("### Paired comparisons with PAT — pgd"), md)
        XCTAssertTrue(md.contains("more robust than PAT"), md)
        // A configured reference replaces PAT.
        var report = Report(title: "t", pipeline: "p", rows: rows(), notes: [])
        report.reference = "atalp"
        XCTAssertTrue(report.files()["report.md"]!.contains("less robust than AT+ALP"))
    }

    func testFigureThreeDrawsTheBand() {
        let files = Report(title: "t", pipeline: "p", rows: rows(), notes: []).files()
        let svg = files.first { $0.key.hasPrefix("figure3-") }!.value
        XCTAssertTrue(svg.contains("<polygon"), "the 95 % band")
    }
}
