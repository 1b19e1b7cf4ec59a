import Foundation
import Robustness

/// Shows training progress: one redrawn status line on a terminal, plain log lines (every
/// `logInterval` seconds) when standard error is a file or a pipe.
final class TrainingReporter {
    private let interactive = isatty(2) != 0
    private let logInterval: Double
    private var lastLog = -Double.infinity
    private let label: String

    init(label: String, logInterval: Double = 15) {
        self.label = label
        self.logInterval = logInterval
    }

    func step(_ p: TrainingProgress) {
        let t = p.terms
        var text = String(format: "%@ epoch %d/%d step %d/%d  loss %.4f  acc %.1f%%", label, p.epoch + 1,
                          p.epochs, p.stepInEpoch, p.stepsPerEpoch, t.total, 100 * t.accuracy)
        if t.logitPairing != 0 || t.attentionPairing != 0 {
            text += String(format: "  (ce %.3f alp %.3f at %.3f)", t.crossEntropy, t.logitPairing, t.attentionPairing)
        }
        text += String(format: "  lr %.4f  %.0f img/s  ETA %@", p.learningRate, p.imagesPerSecond, duration(p.etaSeconds))
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        } else if p.elapsedSeconds - lastLog >= logInterval || p.step == p.totalSteps {
            lastLog = p.elapsedSeconds
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// A line that stays (epoch summaries): ends the status line first on a terminal.
    func line(_ text: String) {
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + text + "\n").utf8))
    }
}

/// 75 s → "1:15", 3725 s → "1:02:05".
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
