import Foundation
import Robustness

/// One accuracy of the report (a Table 1 cell, a Figure 3 point) over a row's training seeds: the
/// mean over seeds, their spread (standard deviation, min–max, number of seeds) and a 95 % interval.
///
/// - One seed: the Wilson score interval over the test images (`ConfidenceInterval.wilson`) — the
///   test-set sampling error only.
/// - Several seeds: the percentile interval of the two-stage bootstrap over seeds × images
///   (`SeedImageBootstrap`, 2000 replicates, seed 0) on the per-image outcomes, which holds both
///   the seed-to-seed and the test-sample variation. Without per-image outcomes (an evaluation
///   artifact older than format 2) the Wilson interval of the mean, which misses the seed part.
struct SeedSummary {
    var spread: SeedSpread
    var interval: ConfidenceInterval
    /// "Wilson" or "bootstrap".
    var method: String

    /// - Parameters:
    ///   - accuracies: one accuracy per seed, in [0, 1].
    ///   - perImage: per seed, the per-image outcomes (nil when any seed lacks them).
    ///   - examples: test images per seed.
    init(accuracies: [Float], perImage: [[Float]]?, examples: Int) {
        spread = SeedSpread(accuracies.map(Double.init))
        if accuracies.count > 1, let perImage, perImage.count == accuracies.count, let n = perImage.first?.count, n > 0,
           perImage.allSatisfy({ $0.count == n }) {
            interval = SeedImageBootstrap(perImage.map { $0.map(Double.init) }, replicates: 2000, seed: 0).interval
            method = "bootstrap"
        } else {
            interval = .wilson(proportion: min(1, max(0, spread.mean)), trials: examples)
            method = "Wilson"
        }
    }

    /// "63.5 (56.6–69.9)" for one seed; "63.5 ± 1.2 (62.0–64.8) [60.1–66.9]" for several: mean ± SD
    /// (min–max over seeds) [95 % interval], in percent.
    var text: String {
        if spread.seeds == 1 { return withInterval(Float(spread.mean), interval) }
        return String(format: "%.1f ± %.1f (%.1f–%.1f) [%.1f–%.1f]", 100 * spread.mean, 100 * spread.standardDeviation,
                      100 * spread.minimum, 100 * spread.maximum, 100 * interval.low, 100 * interval.high)
    }
}

extension Report.Row {
    /// Every seed's evaluation of one threat model and ε, in seed order (empty if the attack had none).
    func evaluations(_ threat: ThreatModel, _ epsilon: Float) -> [AttackEvaluation] {
        replicates.compactMap { $0.first { $0.threatModel == threat && $0.epsilon == epsilon } }
    }

    /// The summary of one cell after `iterations[k]` (nil: the last count; `clean`: the clean accuracy).
    func summary(_ threat: ThreatModel, _ epsilon: Float, iteration k: Int? = nil, clean: Bool = false) -> SeedSummary? {
        let es = evaluations(threat, epsilon)
        guard let first = es.first else { return nil }
        if clean {
            let perImage = es.map(\.cleanPerImage)
            return SeedSummary(accuracies: es.map(\.cleanAccuracy), perImage: perImage.contains { $0 == nil } ? nil : perImage.map { $0! },
                               examples: first.examples)
        }
        let index = k ?? first.accuracies.count - 1
        let perImage = es.map { $0.perImage.flatMap { index < $0.count ? $0[index] : nil } }
        return SeedSummary(accuracies: es.map { index < $0.accuracies.count ? $0.accuracies[index] : $0.finalAccuracy },
                           perImage: perImage.contains { $0 == nil } ? nil : perImage.map { $0! }, examples: first.examples)
    }
}
