import Foundation
import Robustness

/// Progress of long stages: one redrawn status line on a terminal, plain log lines (at most every
/// `logInterval` seconds) when standard error is a file or a pipe. Thread-safe.
public final class ProgressDisplay: @unchecked Sendable {
    private let interactive: Bool
    private let logInterval: Double
    private let quiet: Bool
    private var lastLog: [String: Date] = [:]
    private var statusShown = false
    private let lock = NSLock()
    private let sink: (@Sendable (String) -> Void)?

    /// `sink` receives the text instead of standard error (tests read the log through it).
    public init(interactive: Bool = isatty(2) != 0, logInterval: Double = 15, quiet: Bool = false,
                sink: (@Sendable (String) -> Void)? = nil) {
        self.interactive = interactive
        self.logInterval = logInterval
        self.quiet = quiet
        self.sink = sink
    }

    /// A line that stays.
    public func line(_ text: String) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        write((statusShown ? "\r\u{1B}[K" : "") + text + "\n")
        statusShown = false
    }

    /// A transient status: redrawn on a terminal, logged every `logInterval` seconds otherwise.
    public func update(_ text: String, key: String = "", final: Bool = false) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        if interactive {
            write("\r\u{1B}[K" + text)
            statusShown = true
        } else if final || Date().timeIntervalSince(lastLog[key] ?? .distantPast) >= logInterval {
            lastLog[key] = Date()
            write(text + "\n")
        }
    }

    func training(_ node: String, _ p: TrainingProgress) {
        let t = p.terms
        var text = String(format: "%@ epoch %d/%d step %d/%d  loss %.4f  acc %.1f%%", node, p.epoch + 1,
                          p.epochs, p.stepInEpoch, p.stepsPerEpoch, t.total, 100 * t.accuracy)
        if t.logitPairing != 0 || t.attentionPairing != 0 {
            text += String(format: " (ce %.3f alp %.3f at %.3f)", t.crossEntropy, t.logitPairing, t.attentionPairing)
        }
        text += String(format: "  %.0f img/s  ETA %@", p.imagesPerSecond, duration(p.etaSeconds))
        update(text, key: node, final: p.step == p.totalSteps)
    }

    func counting(_ node: String, done: Int, total: Int, unit: String, started: Date) {
        let elapsed = Date().timeIntervalSince(started)
        let rate = Double(done) / max(elapsed, 1e-9)
        update(String(format: "%@ %d/%d %@  %.0f %@/s  ETA %@", node, done, total, unit, rate, unit,
                      duration(Double(total - done) / max(rate, 1e-9))), key: node, final: done == total)
    }

    private func write(_ text: String) {
        if let sink { sink(text) } else { FileHandle.standardError.write(Foundation.Data(text.utf8)) }
    }
}

/// 75 s → "1:15", 3725 s → "1:02:05".
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
