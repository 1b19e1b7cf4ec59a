import XCTest
@testable import Pipeline
import Robustness

/// Catastrophic-overfitting warnings stand at the top of the report, in both Markdown and HTML.
final class ReportTrainingWarningTests: XCTestCase {
    func testTrainingWarningsComeFirstAndLoud() {
        var report = Report(title: "t", pipeline: "p", rows: [], notes: ["a note"])
        XCTAssertFalse(report.files()["report.md"]!.contains("Training warnings"))
        let warning = CatastrophicOverfitting.warning(model: "fgsm-model", epoch: 3, pgd: (0.4, 0.05), fgsm: (0.5, 0.8))
        report.trainingWarnings = [warning]
        let md = report.files()["report.md"]!, html = report.files()["index.html"]!
        XCTAssertTrue(md.contains("## Training warnings\n\n- **⚠ CATASTROPHIC OVERFITTING: fgsm-model at epoch 3"), md)
        XCTAssertTrue(html.contains("<li class=\"warn\"><b>⚠ CATASTROPHIC OVERFITTING: fgsm-model at epoch 3"), html)
    }
}
