import Autodiff
import Foundation
import NN
import Tensors

/// Auto-PGD under L∞ (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble
/// of diverse parameter-free attacks", algorithm 1): PGD with momentum and a step size that halves by
/// itself, so that the attack needs no step-size tuning and does not stall where fixed-step PGD does.
///
/// Per example, from x⁽⁰⁾ = x + ε·t/‖t‖∞ (t uniform in [−1, 1]ⁿ, clipped to [0, 1]) and η = 2ε:
///
///     z⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + η⁽ᵏ⁾·sign ∇f(x⁽ᵏ⁾))
///     x⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + α·(z⁽ᵏ⁺¹⁾ − x⁽ᵏ⁾) + (1 − α)·(x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾))      α = 0.75 (1 on the first step)
///
/// P projects onto the ε-ball around x and onto [0, 1]. At the checkpoints w_j = ⌈p_j·N⌉ with p₀ = 0,
/// p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), the step halves for an example when
/// 1. fewer than ρ·(w_j − w_{j−1}) of the steps since the last checkpoint raised its loss (ρ = 0.75), or
/// 2. its step was not halved at the last checkpoint and its best loss has not improved since then;
/// and the example then restarts from its best point so far (with that point's gradient).
///
/// Per-example early stopping: an example leaves the batch at the first iterate that fools the model,
/// and a restart attacks only the examples no earlier run has broken. Examples the model misclassifies
/// without any perturbation count as broken at iteration 0 and are not attacked. The model runs in
/// evaluation mode and only input gradients are computed (a `Tape()` without parameter gradients).
///
///     var rng = SeededRandom(seed: 0)
///     let r = APGD.attack(model, images: x, labels: y,
///                         configuration: APGDConfiguration(epsilon: 8 / 255, iterations: 100), rng: &rng)
///     r.robust   // per example: resisted every iterate of every restart
///
/// Differences from the reference implementation (github.com/fra31/auto-attack), each small: the
/// checkpoints follow the paper's p_j with a ceiling, where the code uses integer interval lengths
/// (identical at 100 iterations: 22, 41, 57, 70, 80, 87, 93, 99); condition 1 uses the paper's "<"
/// where the code uses "≤"; the reference code also disables condition 2 at the first checkpoint, and
/// so does this one.
public struct APGDConfiguration: Codable, Hashable, Sendable {
    /// The loss the attack maximises.
    public enum Loss: Codable, Hashable, Sendable {
        /// Cross-entropy (APGD-CE).
        case crossEntropy
        /// Untargeted difference-of-logits-ratio loss (APGD-DLR); needs ≥ 3 classes.
        case dlr
        /// Targeted DLR (APGD-T): one run per target, the targets being the classes ranked 2…k+1 by the
        /// clean logits (k = `targets`, capped at classes − 1); needs ≥ 4 classes. AutoAttack's standard
        /// version uses k = 9.
        case targetedDLR(targets: Int)
    }

    /// L∞ radius in pixel units ([0, 1] scale).
    public var epsilon: Float
    /// N, gradient steps per run (AutoAttack: 100).
    public var iterations: Int
    /// Runs from different random starts (per target for `targetedDLR`); each attacks only the examples
    /// no earlier run has broken (AutoAttack standard: 1; its "plus" version: 5).
    public var restarts: Int
    public var loss: Loss
    /// α, the weight of the new step against the previous one (0.75).
    public var momentum: Float
    /// ρ, the share of loss-raising steps below which the step halves at a checkpoint (0.75).
    public var rho: Float
    /// Forward/backward passes averaged into each input gradient (expectation over transformation for
    /// randomised classifiers; 1 for deterministic ones). Losses are averaged too; whether an iterate
    /// fools the model is read from the last pass.
    public var gradientSamples: Int

    public init(epsilon: Float, iterations: Int = 100, restarts: Int = 1, loss: Loss = .crossEntropy,
                momentum: Float = 0.75, rho: Float = 0.75, gradientSamples: Int = 1) {
        precondition(epsilon >= 0 && iterations >= 0 && restarts >= 1 && gradientSamples >= 1, "invalid APGD configuration")
        precondition(momentum > 0 && momentum <= 1 && rho > 0 && rho <= 1, "APGD momentum and ρ lie in (0, 1]")
        if case .targetedDLR(let k) = loss { precondition(k >= 1, "APGD-T needs at least one target class") }
        self.epsilon = epsilon; self.iterations = iterations; self.restarts = restarts; self.loss = loss
        self.momentum = momentum; self.rho = rho; self.gradientSamples = gradientSamples
    }

    /// The iteration counts after which the step size is checked: w_j = ⌈p_j·N⌉ for the p_j of the
    /// paper that fall in (0, 1]. For N = 100: [22, 41, 57, 70, 80, 87, 93, 99].
    public static func checkpoints(iterations n: Int) -> [Int] {
        var result: [Int] = []
        var previous = 0.0, p = 0.22
        while p <= 1 {
            let w = Int((p * Double(n) - 1e-9).rounded(.up))
            if w >= 1 && w <= n && w != result.last { result.append(w) }
            (previous, p) = (p, p + max(p - previous - 0.03, 0.06))
        }
        return result
    }
}

public enum APGD {
    /// Attacks one batch with APGD. `labels` are the true labels (the targets of APGD-T are chosen from
    /// the clean logits). `recordingAfter` lists iteration counts (≤ `configuration.iterations`) at which
    /// to report robustness: `robustAfter[k][i]` is false once any run fooled example i within k steps.
    ///
    /// `adversarial` holds, per example, the first iterate that fooled the model; for robust examples the
    /// point of highest loss over all runs; for examples misclassified from the start, x itself.
    public static func attack(_ model: any Classifier, images x: Tensor, labels: [Int], configuration c: APGDConfiguration,
                              rng: inout SeededRandom, recordingAfter recorded: [Int] = []) -> AttackResult {
        let n = x.shape[0]
        precondition(labels.count == n, "\(labels.count) labels for a batch of \(n)")
        precondition(recorded.allSatisfy { $0 >= 0 && $0 <= c.iterations }, "checkpoints beyond \(c.iterations) iterations")
        var state = AttackBookkeeping(images: x)

        // Clean pass: misclassified examples are broken before the attack starts; APGD-T takes its
        // targets from these logits.
        let cleanLogits = evaluationLogits(model, x)
        let classes = cleanLogits.shape.count == 2 ? cleanLogits.shape[1] : 0
        for (i, p) in cleanLogits.argmaxPerRow().enumerated() where p != labels[i] { state.markFooled(i, at: 0, row: nil) }

        let targetRanks: [Int?]
        switch c.loss {
        case .crossEntropy: targetRanks = [nil]
        case .dlr:
            precondition(classes >= 3, "APGD-DLR needs at least 3 classes, not \(classes)")
            targetRanks = [nil]
        case .targetedDLR(let k):
            precondition(classes >= 4, "APGD-T needs at least 4 classes, not \(classes)")
            targetRanks = Array(1...min(k, classes - 1))   // rank 0 is the top class
        }
        let order = targetRanks.contains(where: { $0 != nil }) ? cleanLogits.rowOrderDescending() : []

        for rank in targetRanks {
            for _ in 0..<c.restarts {
                let subset = (0..<n).filter { !state.broken[$0] }
                guard !subset.isEmpty else { break }
                let targets = rank.map { r in subset.map { order[$0][r] } }
                let run = singleRun(model, images: x.gatherRows(subset), labels: subset.map { labels[$0] }, targets: targets,
                                    configuration: c, rng: &rng)
                state.merge(run, subset: subset)
            }
        }
        return state.result(recordingAfter: recorded, examples: n)
    }

    // MARK: - One run

    /// What one run on a subset found: per example the iteration of the first fooling iterate (or nil),
    /// the adversarial rows (fooling iterate, else best-loss point) and the best loss.
    struct RunResult {
        var foolIteration: [Int?]
        var points: Tensor
        var bestLoss: [Float]
    }

    static func singleRun(_ model: any Classifier, images x: Tensor, labels: [Int], targets: [Int]?,
                          configuration c: APGDConfiguration, rng: inout SeededRandom) -> RunResult {
        let m = x.shape[0], inner = x.count / max(m, 1), iterations = c.iterations, eps = c.epsilon
        let lower = x.map { max($0 - eps, 0) }, upper = x.map { min($0 + eps, 1) }

        // x⁽⁰⁾ = x + ε·t/‖t‖∞, clipped to [0, 1].
        var xAdv = Tensor.uniform(shape: x.shape, in: -1...1, using: &rng)
        xAdv.withUnsafeMutableBufferPointer { t in x.withUnsafeBufferPointer { xb in
            for i in 0..<m {
                let o = i * inner
                var peak: Float = 0
                for j in 0..<inner { peak = max(peak, abs(t[o + j])) }
                let scale = peak > 0 ? eps / peak : 0
                for j in 0..<inner { t[o + j] = min(max(xb[o + j] + scale * t[o + j], 0), 1) }
            }
        } }

        var foolIteration = [Int?](repeating: nil, count: m)
        var points = x
        let first = evaluate(model, xAdv, labels: labels, targets: targets, loss: c.loss, samples: c.gradientSamples)
        var gradient = first.gradient
        let stride = iterations + 1
        var history = [Float](repeating: 0, count: m * stride)   // f(x⁽ᵏ⁾) per example
        var bestLoss = first.losses
        for i in 0..<m {
            history[i * stride] = first.losses[i]
            if first.predictions[i] != labels[i] { foolIteration[i] = 0; points.overwriteRow(i, from: xAdv, row: i) }
        }
        var xBest = xAdv, gradientBest = gradient, xPrevious = xAdv
        var step = [Float](repeating: 2 * eps, count: m)
        var reducedAtLastCheck = [Bool](repeating: true, count: m)
        var bestAtLastCheck = bestLoss
        let checkpoints = Set(APGDConfiguration.checkpoints(iterations: iterations))
        var lastCheckpoint = 0
        var active = (0..<m).filter { foolIteration[$0] == nil }

        for k in 0..<iterations {
            if active.isEmpty { break }
            let a: Float = k == 0 ? 1 : c.momentum
            momentumStep(&xAdv, previous: &xPrevious, gradient: gradient, lower: lower, upper: upper,
                         rows: active, inner: inner, step: step, alpha: a)
            let e = evaluate(model, xAdv.gatherRows(active), labels: active.map { labels[$0] },
                             targets: targets.map { t in active.map { t[$0] } }, loss: c.loss, samples: c.gradientSamples)
            for (r, i) in active.enumerated() {
                gradient.overwriteRow(i, from: e.gradient, row: r)
                history[i * stride + k + 1] = e.losses[r]
                if e.predictions[r] != labels[i] { foolIteration[i] = k + 1; points.overwriteRow(i, from: xAdv, row: i) }
                if e.losses[r] > bestLoss[i] {
                    bestLoss[i] = e.losses[r]
                    xBest.overwriteRow(i, from: xAdv, row: i)
                    gradientBest.overwriteRow(i, from: gradient, row: i)
                }
            }
            if checkpoints.contains(k + 1) {
                let span = k + 1 - lastCheckpoint
                for i in active where foolIteration[i] == nil {
                    var raised = 0
                    for t in (lastCheckpoint + 1)...(k + 1) where history[i * stride + t] > history[i * stride + t - 1] { raised += 1 }
                    let oscillating = Float(raised) < c.rho * Float(span)
                    let stalled = !reducedAtLastCheck[i] && bestAtLastCheck[i] >= bestLoss[i]
                    let halve = oscillating || stalled
                    reducedAtLastCheck[i] = halve
                    bestAtLastCheck[i] = bestLoss[i]
                    if halve {
                        step[i] /= 2
                        xAdv.overwriteRow(i, from: xBest, row: i)
                        gradient.overwriteRow(i, from: gradientBest, row: i)
                    }
                }
                lastCheckpoint = k + 1
            }
            active.removeAll { foolIteration[$0] != nil }
        }
        for i in 0..<m where foolIteration[i] == nil { points.overwriteRow(i, from: xBest, row: i) }
        return RunResult(foolIteration: foolIteration, points: points, bestLoss: bestLoss)
    }

    /// The two-stage momentum step of algorithm 1 on the given rows, fused in one pass per row.
    private static func momentumStep(_ x: inout Tensor, previous: inout Tensor, gradient g: Tensor, lower: Tensor, upper: Tensor,
                                     rows: [Int], inner: Int, step: [Float], alpha a: Float) {
        g.withUnsafeBufferPointer { gb in lower.withUnsafeBufferPointer { lo in upper.withUnsafeBufferPointer { hi in
            previous.withUnsafeMutableBufferPointer { pb in x.withUnsafeMutableBufferPointer { xb in
                for i in rows {
                    let eta = step[i]
                    for j in (i * inner)..<((i + 1) * inner) {
                        let v = xb[j], s: Float = gb[j] > 0 ? eta : (gb[j] < 0 ? -eta : 0)
                        let z = min(max(v + s, lo[j]), hi[j])
                        let next = min(max(v + a * (z - v) + (1 - a) * (v - pb[j]), lo[j]), hi[j])
                        pb[j] = v
                        xb[j] = next
                    }
                }
            } }
        } } }
    }

    /// Loss values, predictions and the input gradient of Σ loss at x, averaged over `samples` passes.
    static func evaluate(_ model: any Classifier, _ x: Tensor, labels: [Int], targets: [Int]?, loss: APGDConfiguration.Loss,
                         samples: Int) -> (losses: [Float], predictions: [Int], gradient: Tensor) {
        var gradient = Tensor(shape: x.shape)
        var losses = [Float](repeating: 0, count: labels.count)
        var predictions: [Int] = []
        for _ in 0..<samples {
            let tape = Tape()
            let v = tape.input(x, requiresGradient: true)
            let logits = model(v, mode: .evaluation).logits
            predictions = logits.value.argmaxPerRow()
            let values: [Float]
            switch (loss, targets) {
            case (.crossEntropy, _):
                values = crossEntropyPerExample(logits: logits.value, labels: labels)
                tape.backward(from: softmaxCrossEntropy(logits, labels: labels, reduction: .sum))
            case (.dlr, _), (.targetedDLR, nil):
                let l = dlrLoss(logits, labels: labels)
                values = l.value.scalars
                tape.backward(from: sum(l))
            case (.targetedDLR, let t?):
                let l = targetedDLRLoss(logits, labels: labels, targets: t)
                values = l.value.scalars
                tape.backward(from: sum(l))
            }
            // A model that blocks its gradient (a masked one) may leave none: that is a zero gradient.
            if let g = v.gradient { if samples == 1 { gradient = g } else { gradient += g } }
            for i in 0..<losses.count { losses[i] += values[i] }
        }
        if samples > 1 {
            let s = 1 / Float(samples)
            gradient = gradient * s
            for i in 0..<losses.count { losses[i] *= s }
        }
        return (losses, predictions, gradient)
    }
}

// MARK: - Shared bookkeeping of multi-run attacks

/// The model's logits in evaluation mode with nothing recorded. The tape is kept alive for the whole
/// pass: variables hold their tape weakly.
func evaluationLogits(_ model: any Classifier, _ x: Tensor) -> Tensor {
    let tape = Tape()
    return withExtendedLifetime(tape) { model(tape.input(x, requiresGradient: false), mode: .evaluation).logits.value }
}

/// Per-example bookkeeping across the runs of an attack (restarts, targets): which examples are broken
/// and when, and the point to return for each.
struct AttackBookkeeping {
    var points: Tensor
    var broken: [Bool]
    var foolIteration: [Int?]
    var bestLoss: [Float]

    init(images x: Tensor) {
        let n = x.shape[0]
        points = x
        broken = [Bool](repeating: false, count: n)
        foolIteration = [Int?](repeating: nil, count: n)
        bestLoss = [Float](repeating: -.infinity, count: n)
    }

    /// Marks example i broken at iteration k, with the fooling point `row` of `source` (nil: keep x).
    mutating func markFooled(_ i: Int, at k: Int, row: (Tensor, Int)?) {
        if !broken[i] {
            broken[i] = true
            if let row { points.overwriteRow(i, from: row.0, row: row.1) }
        }
        foolIteration[i] = min(foolIteration[i] ?? k, k)
    }

    mutating func merge(_ run: APGD.RunResult, subset: [Int]) {
        for (r, i) in subset.enumerated() {
            if let k = run.foolIteration[r] {
                markFooled(i, at: k, row: (run.points, r))
            } else if !broken[i] && run.bestLoss[r] > bestLoss[i] {
                bestLoss[i] = run.bestLoss[r]
                points.overwriteRow(i, from: run.points, row: r)
            }
        }
    }

    func result(recordingAfter recorded: [Int], examples n: Int) -> AttackResult {
        let robustAfter = Dictionary(recorded.map { k in (k, (0..<n).map { i in (foolIteration[i].map { $0 > k }) ?? true }) },
                                     uniquingKeysWith: { a, _ in a })
        return AttackResult(adversarial: points, robustAfter: robustAfter, robust: broken.map { !$0 })
    }
}

extension Tensor {
    /// Copies row `r` of `source` (same row length) into row `i` of this tensor.
    mutating func overwriteRow(_ i: Int, from source: Tensor, row r: Int) {
        let inner = count / Swift.max(shape[0], 1)
        precondition(source.count / Swift.max(source.shape[0], 1) == inner, "rows of different lengths")
        source.withUnsafeBufferPointer { s in
            withUnsafeMutableBufferPointer { t in (t.baseAddress! + i * inner).update(from: s.baseAddress! + r * inner, count: inner) }
        }
    }

    /// For each row of an N×D matrix, the column indices by decreasing value (ties: lower index first).
    func rowOrderDescending() -> [[Int]] {
        let n = shape[0], d = shape[1]
        return withUnsafeBufferPointer { z in
            (0..<n).map { i in (0..<d).sorted { a, b in z[i * d + a] != z[i * d + b] ? z[i * d + a] > z[i * d + b] : a < b } }
        }
    }
}
