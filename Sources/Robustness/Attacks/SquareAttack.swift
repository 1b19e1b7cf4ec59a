import Autodiff
import Foundation
import NN
import Tensors

/// The L∞ Square attack (Andriushchenko, Croce, Flammarion & Hein 2020, "Square Attack: a query-efficient
/// black-box adversarial attack via random search"), as in AutoAttack's standard ensemble.
///
/// A score-based random search that never asks for a gradient, so gradient masking (non-differentiable
/// preprocessing, shattered or vanishing gradients) does not stop it. Per example:
///
/// - start from vertical stripes: x̂ = clip(x + ε·s, 0, 1) with one random sign s per channel and column;
/// - each iteration, propose x̂ with one random s×s square window (per channel a random sign) set to
///   clip(x ± ε, 0, 1), the window side shrinking with the schedule p (below); redraw the signs while the
///   proposal equals the current point (as the original code does);
/// - keep the proposal when it lowers the margin loss z_y − max_{i≠y} z_i, or when it fools the model;
/// - stop at the first point that fools the model (per-example early stopping).
///
/// Schedule: the window covers about a share p of the image, s = max(round(√(p·H·W)), 1) (capped at
/// min(H, W) − 1), with p = p_init halved at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000
/// of a 10 000-iteration run; with `rescaleSchedule` (AutoAttack's default) those iterations are scaled to
/// the actual iteration count.
///
/// Query budget: `queries` is the most model evaluations any one example sees — its clean evaluation, the
/// stripe initialisation, then `queries − 2` iterations. Examples the model misclassifies clean cost one
/// query and are not attacked. Query counts are per example, and an example that is broken stops costing.
///
///     var rng = SeededRandom(seed: 0)
///     let r = SquareAttack.attack(model, images: x, labels: y,
///                                 configuration: SquareAttackConfiguration(epsilon: 0.1, queries: 5000), rng: &rng)
///
/// Left out: the L2 version of the attack, and the targeted variant (AutoAttack's standard ensemble uses
/// untargeted L∞ Square only).
public struct SquareAttackConfiguration: Codable, Hashable, Sendable {
    /// L∞ radius in pixel units ([0, 1] scale).
    public var epsilon: Float
    /// Model evaluations per example at most, the clean one included (AutoAttack standard: 5000 iterations).
    public var queries: Int
    /// p_init, the initial share of the image a window covers (0.8 in AutoAttack's standard version).
    public var pInit: Float
    /// Scale the p-schedule's breakpoints (given for 10 000 iterations) to the iteration count.
    public var rescaleSchedule: Bool

    public init(epsilon: Float, queries: Int = 5000, pInit: Float = 0.8, rescaleSchedule: Bool = true) {
        precondition(epsilon >= 0 && queries >= 2 && pInit > 0 && pInit <= 1, "invalid Square attack configuration")
        self.epsilon = epsilon; self.queries = queries; self.pInit = pInit; self.rescaleSchedule = rescaleSchedule
    }

    /// Random-search iterations after the clean evaluation and the initialisation.
    public var iterations: Int { queries - 2 }

    /// The share p of the image covered by the window at iteration `i` (0-based).
    public func windowShare(iteration i: Int) -> Float {
        let it = rescaleSchedule ? Int(Double(i) / Double(max(iterations, 1)) * 10_000) : i
        let halvings: Int = switch it {
        case ...10: 0
        case ...50: 1
        case ...200: 2
        case ...500: 3
        case ...1000: 4
        case ...2000: 5
        case ...4000: 6
        case ...6000: 7
        case ...8000: 8
        default: 9
        }
        return pInit / Float(1 << halvings)
    }
}

/// What a Square attack run found: the usual `AttackResult` and the model queries each example cost.
public struct SquareAttackOutcome {
    public var result: AttackResult
    /// Per example, model evaluations spent (≤ `configuration.queries`).
    public var queries: [Int]
}

public enum SquareAttack {
    /// Attacks one batch. `recordingAfter` lists query counts (≤ `configuration.queries`) at which to
    /// report robustness: `robustAfter[q][i]` is false when example i was broken within its first q queries.
    ///
    /// `adversarial` holds the fooling point for broken examples, the lowest-margin point found for
    /// robust ones, and x itself for examples misclassified clean.
    public static func attack(_ model: any Classifier, images x: Tensor, labels: [Int], configuration c: SquareAttackConfiguration,
                              rng: inout SeededRandom, recordingAfter recorded: [Int] = []) -> AttackResult {
        attackCountingQueries(model, images: x, labels: labels, configuration: c, rng: &rng, recordingAfter: recorded).result
    }

    /// `attack`, also returning the queries each example cost.
    public static func attackCountingQueries(_ model: any Classifier, images x: Tensor, labels: [Int],
                                             configuration c: SquareAttackConfiguration, rng: inout SeededRandom,
                                             recordingAfter recorded: [Int] = []) -> SquareAttackOutcome {
        precondition(x.rank == 4, "the Square attack needs N×C×H×W images, got \(x.shape)")
        let (n, channels, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(labels.count == n, "\(labels.count) labels for a batch of \(n)")
        precondition(h >= 2 && w >= 2, "the Square attack needs images of at least 2×2 pixels")
        precondition(recorded.allSatisfy { $0 >= 0 && $0 <= c.queries }, "checkpoints beyond \(c.queries) queries")
        let inner = channels * h * w, eps = c.epsilon
        var book = AttackBookkeeping(images: x)
        var queries = [Int](repeating: 0, count: n)

        func query(_ batch: Tensor, labels: [Int]) -> (margins: [Float], predictions: [Int]) {
            let logits = evaluationLogits(model, batch)
            return (logitMarginPerExample(logits: logits, labels: labels), logits.argmaxPerRow())
        }

        // Clean evaluation (query 1).
        let clean = query(x, labels: labels)
        for i in 0..<n {
            queries[i] = 1
            if clean.predictions[i] != labels[i] { book.markFooled(i, at: 1, row: nil) }
        }
        var active = (0..<n).filter { !book.broken[$0] }
        guard !active.isEmpty, c.queries >= 2 else {
            return SquareAttackOutcome(result: book.result(recordingAfter: recorded, examples: n), queries: queries)
        }

        // Vertical stripes (query 2): one sign per example, channel and column.
        var best = x.gatherRows(active)
        let cleanActive = best
        best.withUnsafeMutableBufferPointer { b in
            for r in 0..<active.count {
                for ch in 0..<channels {
                    let plane = (r * channels + ch) * h * w
                    for col in 0..<w {
                        let s = rng.nextRademacher() * eps
                        for row in 0..<h { b[plane + row * w + col] = min(max(b[plane + row * w + col] + s, 0), 1) }
                    }
                }
            }
        }
        // Per-example state lives in rows of `best` indexed by position in the original `active` list.
        let slot = Dictionary(uniqueKeysWithValues: active.enumerated().map { ($1, $0) })
        let start = query(best, labels: active.map { labels[$0] })
        var bestMargin = [Float](repeating: .infinity, count: n)
        for (r, i) in active.enumerated() {
            queries[i] = 2
            bestMargin[i] = start.margins[r]
            if start.predictions[r] != labels[i] { book.markFooled(i, at: 2, row: (best, r)) }
        }
        active.removeAll { book.broken[$0] }

        var iteration = 0
        while iteration < c.iterations && !active.isEmpty {
            let share = c.windowShare(iteration: iteration)
            let side = min(max(Int((share * Float(h * w)).squareRoot().rounded()), 1), min(h, w) - 1)
            var proposal = best.gatherRows(active.map { slot[$0]! })
            proposal.withUnsafeMutableBufferPointer { p in cleanActive.withUnsafeBufferPointer { xb in best.withUnsafeBufferPointer { bb in
                for (r, i) in active.enumerated() {
                    let top = Int(rng.next() % UInt64(h - side)), left = Int(rng.next() % UInt64(w - side))
                    let origin = slot[i]! * inner, target = r * inner
                    // Redraw the signs while the window would not change (at most 10 draws).
                    for _ in 0..<10 {
                        var changed = false
                        for ch in 0..<channels {
                            let s = rng.nextRademacher() * eps
                            for row in top..<(top + side) {
                                let base = ch * h * w + row * w
                                for col in left..<(left + side) {
                                    let v = min(max(xb[origin + base + col] + s, 0), 1)
                                    if v != bb[origin + base + col] { changed = true }
                                    p[target + base + col] = v
                                }
                            }
                        }
                        if changed { break }
                    }
                }
            } } }
            let e = query(proposal, labels: active.map { labels[$0] })
            for (r, i) in active.enumerated() {
                queries[i] += 1
                let fooled = e.predictions[r] != labels[i]
                if e.margins[r] < bestMargin[i] || fooled {
                    bestMargin[i] = min(bestMargin[i], e.margins[r])
                    best.overwriteRow(slot[i]!, from: proposal, row: r)
                }
                if fooled { book.markFooled(i, at: queries[i], row: (proposal, r)) }
            }
            active.removeAll { book.broken[$0] }
            iteration += 1
        }
        for (i, s) in slot where !book.broken[i] { book.points.overwriteRow(i, from: best, row: s) }
        return SquareAttackOutcome(result: book.result(recordingAfter: recorded, examples: n), queries: queries)
    }
}
