import Autodiff
import NN
import Tensors

/// Projected gradient descent under L∞ (Madry et al.), with FGSM as its one-step special case.
///
/// Each iteration moves x' by `stepSize`·sign(∇ₓ CE) (away from the label, or towards a target) and
/// projects back onto the ε-ball around x and onto [0, 1]. The model runs in evaluation mode and the
/// tape treats parameters as constants: only the input gradient is computed.
public struct PGDConfiguration: Codable, Hashable, Sendable {
    /// L∞ radius in pixel units ([0, 1] scale; the paper's ε = 64/256 is 0.25).
    public var epsilon: Float
    public var stepSize: Float
    public var iterations: Int
    /// Start from a uniform random point in the ε-ball (Madry) instead of x itself.
    public var randomStart: Bool
    /// Independent runs from different random starts; each example keeps its worst case.
    public var restarts: Int
    /// Descend towards given target labels instead of ascending away from the true ones.
    public var targeted: Bool
    /// Expectation over transformation (Athalye et al. 2018): forward/backward passes per step whose
    /// input gradients are averaged, for models that draw random numbers in their forward pass
    /// (`RandomizedClassifier`). 1 (the default) is plain PGD; absent from a decoded configuration
    /// means 1, and 1 is not encoded, so existing encodings (and cache keys) are unchanged.
    public var gradientSamples: Int

    public init(epsilon: Float, stepSize: Float, iterations: Int, randomStart: Bool = true, restarts: Int = 1, targeted: Bool = false,
                gradientSamples: Int = 1) {
        precondition(epsilon >= 0 && stepSize >= 0 && iterations >= 0 && restarts >= 1 && gradientSamples >= 1,
                     "invalid PGD configuration")
        self.epsilon = epsilon; self.stepSize = stepSize; self.iterations = iterations
        self.randomStart = randomStart; self.restarts = restarts; self.targeted = targeted
        self.gradientSamples = gradientSamples
    }

    private enum CodingKeys: String, CodingKey {
        case epsilon, stepSize, iterations, randomStart, restarts, targeted, gradientSamples
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epsilon = try c.decode(Float.self, forKey: .epsilon)
        stepSize = try c.decode(Float.self, forKey: .stepSize)
        iterations = try c.decode(Int.self, forKey: .iterations)
        randomStart = try c.decode(Bool.self, forKey: .randomStart)
        restarts = try c.decode(Int.self, forKey: .restarts)
        targeted = try c.decode(Bool.self, forKey: .targeted)
        gradientSamples = try c.decodeIfPresent(Int.self, forKey: .gradientSamples) ?? 1
        guard gradientSamples >= 1 else {
            throw DecodingError.dataCorruptedError(forKey: .gradientSamples, in: c, debugDescription: "gradientSamples must be at least 1")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epsilon, forKey: .epsilon)
        try c.encode(stepSize, forKey: .stepSize)
        try c.encode(iterations, forKey: .iterations)
        try c.encode(randomStart, forKey: .randomStart)
        try c.encode(restarts, forKey: .restarts)
        try c.encode(targeted, forKey: .targeted)
        if gradientSamples != 1 { try c.encode(gradientSamples, forKey: .gradientSamples) }
    }

    /// FGSM (Goodfellow et al.): a single step of size ε from x.
    public static func fgsm(epsilon: Float) -> PGDConfiguration {
        PGDConfiguration(epsilon: epsilon, stepSize: epsilon, iterations: 1, randomStart: false)
    }
}

/// Which iterate a PGD attack hands over as a *transfer set*: the adversarial images given to a model
/// the attacker cannot query (gray- and black-box evaluation, shared adversarial data sets).
///
/// Per example, over the iterates of every restart up to the recorded iteration count k:
/// - `finalIterate` (default): iterate k of the restart whose iterate k has the highest source loss.
///   Madry et al. 2018 and the AT+ALP paper hand over the final PGD iterate; torchattacks' `PGD`
///   returns it; it sits deepest in the source's high-loss region and transfers best.
/// - `maxLoss`: the iterate (of any iteration ≤ k and any restart) with the highest source loss
///   (the `PGD` of Croce & Hein's and Rice et al.'s evaluation code keeps it).
/// - `firstSuccess`: the first iterate that fooled the source, else as `finalIterate`. Right for
///   *white-box scoring* (an example is lost once any iterate fooled the model), wrong for transfer:
///   those examples sit just across the source's boundary and barely transfer. atalp used it for
///   transfer sets before adversarial-set format 2.
public enum TransferRule: String, Codable, CaseIterable, Hashable, Sendable {
    case finalIterate = "final-iterate"
    case maxLoss = "max-loss"
    case firstSuccess = "first-success"
}

/// What one attack run on a batch found.
public struct AttackResult {
    /// The white-box evidence of the whole attack: per example the first iterate that fooled the
    /// model, or else the final iterate of the restart with the highest loss.
    public var adversarial: Tensor
    /// For each requested iteration count k: per example, whether the model still classified correctly
    /// every iterate of every restart up to k (for targeted attacks: whether the target was not reached).
    public var robustAfter: [Int: [Bool]]
    /// Per example, whether the model resisted the whole attack.
    public var robust: [Bool]
    /// For each requested iteration count k (PGD only; empty for other attacks): the white-box evidence
    /// after k iterations (per example the first iterate ≤ k of any restart that fooled the model, else
    /// the `finalIterate` image at k). Evaluating the attacked model on it reproduces `robustAfter[k]`.
    public var whiteBoxAfter: [Int: Tensor]
    /// For each requested iteration count k (PGD only): the transfer set after k iterations under the
    /// attack's `TransferRule`.
    public var transferAfter: [Int: Tensor]

    public init(adversarial: Tensor, robustAfter: [Int: [Bool]], robust: [Bool], whiteBoxAfter: [Int: Tensor] = [:],
                transferAfter: [Int: Tensor] = [:]) {
        self.adversarial = adversarial; self.robustAfter = robustAfter; self.robust = robust
        self.whiteBoxAfter = whiteBoxAfter; self.transferAfter = transferAfter
    }
}

public enum PGD {
    /// Attacks one batch. `labels` are the true labels, or the targets when `configuration.targeted`.
    /// `recordingAfter` lists iteration counts at which to report robustness and keep images (the
    /// paper's Figure 3 from one run: 10, 20, 50, 100, 200), each ≤ `configuration.iterations`.
    /// `transferRule` says which iterate `transferAfter` keeps. The "loss" that ranks iterates is the
    /// per-example cross-entropy the attack ascends (its negative for a targeted attack).
    public static func attack(_ model: any Classifier, images x: Tensor, labels: [Int], configuration c: PGDConfiguration,
                              rng: inout SeededRandom, recordingAfter checkpoints: [Int] = [],
                              transferRule: TransferRule = .finalIterate) -> AttackResult {
        let n = x.shape[0], inner = x.count / max(n, 1)
        precondition(labels.count == n, "\(labels.count) labels for a batch of \(n)")
        precondition(checkpoints.allSatisfy { $0 >= 0 && $0 <= c.iterations }, "checkpoints beyond \(c.iterations) iterations")
        let lower = x.map { max($0 - c.epsilon, 0) }, upper = x.map { min($0 + c.epsilon, 1) }
        let direction: Float = c.targeted ? -1 : 1
        let recorded = Set(checkpoints)
        var best = x                                            // `adversarial`
        var broken = [Bool](repeating: false, count: n)
        var bestLoss = [Float](repeating: -.infinity, count: n)
        var robustAfter = Dictionary(uniqueKeysWithValues: recorded.map { ($0, [Bool](repeating: true, count: n)) })
        // Per recorded k: the first fooling iterate (white-box), and the max-loss image with its loss.
        var whiteBoxAfter = Dictionary(uniqueKeysWithValues: recorded.map { ($0, x) })
        var maxLossAfter = Dictionary(uniqueKeysWithValues: recorded.map { ($0, x) })
        var maxLoss = Dictionary(uniqueKeysWithValues: recorded.map { ($0, [Float](repeating: -.infinity, count: n)) })
        var finalLoss = maxLoss                            // loss of the final-iterate image at k
        var finalAfter = maxLossAfter                          // the final-iterate image at k
        let tracksMaxLoss = transferRule == .maxLoss            // the max-loss images cost a copy per improvement

        for _ in 0..<c.restarts {
            var adv = start(x, c, lower: lower, upper: upper, rng: &rng)
            var brokenThisRun = [Bool](repeating: false, count: n)
            var firstFooling = x                                // this restart's first fooling iterates
            var runBest = x                                     // this restart's highest-loss iterate so far
            var runBestLoss = [Float](repeating: -.infinity, count: n)
            for k in 0...c.iterations {
                let tape = Tape()
                let v = tape.input(adv, requiresGradient: k < c.iterations)
                let logits = model(v, mode: .evaluation).logits
                let predictions = logits.value.argmaxPerRow()
                let losses = crossEntropyPerExample(logits: logits.value, labels: labels).map { direction * $0 }
                // Record what iterate k achieves before stepping on to k + 1.
                for i in 0..<n {
                    if tracksMaxLoss && losses[i] > runBestLoss[i] {
                        runBestLoss[i] = losses[i]
                        copyRow(i, of: adv, into: &runBest, inner: inner)
                    }
                    let fooled = c.targeted ? predictions[i] == labels[i] : predictions[i] != labels[i]
                    guard fooled, !brokenThisRun[i] else { continue }
                    brokenThisRun[i] = true
                    copyRow(i, of: adv, into: &firstFooling, inner: inner)
                    if !broken[i] {
                        broken[i] = true
                        copyRow(i, of: adv, into: &best, inner: inner)
                    }
                }
                if recorded.contains(k) {
                    for i in 0..<n {
                        if losses[i] > finalLoss[k]![i] {
                            finalLoss[k]![i] = losses[i]
                            copyRow(i, of: adv, into: &finalAfter[k]!, inner: inner)
                        }
                        if tracksMaxLoss && runBestLoss[i] > maxLoss[k]![i] {
                            maxLoss[k]![i] = runBestLoss[i]
                            copyRow(i, of: runBest, into: &maxLossAfter[k]!, inner: inner)
                        }
                        // The first restart to fool example i within k iterations supplies its evidence.
                        if brokenThisRun[i] && robustAfter[k]![i] {
                            robustAfter[k]![i] = false
                            copyRow(i, of: firstFooling, into: &whiteBoxAfter[k]!, inner: inner)
                        }
                    }
                }
                if k == c.iterations {
                    for i in 0..<n where !broken[i] && losses[i] > bestLoss[i] {
                        bestLoss[i] = losses[i]
                        copyRow(i, of: adv, into: &best, inner: inner)
                    }
                    break
                }
                tape.backward(from: softmaxCrossEntropy(logits, labels: labels, reduction: .sum))
                let gradient = c.gradientSamples > 1
                    ? averagedGradient(model, adv, labels: labels, first: v.gradient!, samples: c.gradientSamples) : v.gradient!
                signStep(&adv, gradient: gradient, step: c.stepSize * direction, lower: lower, upper: upper)
            }
        }
        // Unbroken examples' white-box evidence is their final-iterate image.
        for k in recorded {
            for i in 0..<n where robustAfter[k]![i] { copyRow(i, of: finalAfter[k]!, into: &whiteBoxAfter[k]!, inner: inner) }
        }
        let transfer: [Int: Tensor]
        switch transferRule {
        case .finalIterate: transfer = finalAfter
        case .maxLoss: transfer = maxLossAfter
        case .firstSuccess: transfer = whiteBoxAfter
        }
        return AttackResult(adversarial: best, robustAfter: robustAfter, robust: broken.map { !$0 },
                            whiteBoxAfter: whiteBoxAfter, transferAfter: transfer)
    }

    /// The final iterate of one PGD run, with no bookkeeping: what adversarial training uses (Madry et al.).
    /// With `slice`, `x` is rows `slice.rows` of a global batch split over data-parallel ranks: the
    /// random start is drawn for the whole global batch, as one process would, and these rows kept.
    public static func perturb(_ model: any Classifier, images x: Tensor, labels: [Int], configuration c: PGDConfiguration,
                               rng: inout SeededRandom, slice: BatchSlice? = nil) -> Tensor {
        let lower = x.map { max($0 - c.epsilon, 0) }, upper = x.map { min($0 + c.epsilon, 1) }
        var adv = start(x, c, lower: lower, upper: upper, rng: &rng, slice: slice)
        let step = c.stepSize * (c.targeted ? -1 : 1)
        for _ in 0..<c.iterations {
            let tape = Tape()
            let v = tape.input(adv, requiresGradient: true)
            tape.backward(from: softmaxCrossEntropy(model(v, mode: .evaluation).logits, labels: labels, reduction: .sum))
            let gradient = c.gradientSamples > 1
                ? averagedGradient(model, adv, labels: labels, first: v.gradient!, samples: c.gradientSamples) : v.gradient!
            signStep(&adv, gradient: gradient, step: step, lower: lower, upper: upper)
        }
        return adv
    }

    /// EOT: the mean of ∇ₓ CE over `samples` forward/backward passes, `first` being the one already
    /// taken. Each pass lets a randomized model draw afresh; for a deterministic model every pass is
    /// the same and the mean is `first`.
    static func averagedGradient(_ model: any Classifier, _ x: Tensor, labels: [Int], first: Tensor, samples: Int) -> Tensor {
        var total = first
        for _ in 1..<samples {
            let tape = Tape()
            let v = tape.input(x, requiresGradient: true)
            tape.backward(from: softmaxCrossEntropy(model(v, mode: .evaluation).logits, labels: labels, reduction: .sum))
            total += v.gradient!
        }
        return total * (1 / Float(samples))
    }

    /// The first iterate: x itself, or a uniform random point of the ε-ball around x clipped to [0, 1].
    static func start(_ x: Tensor, _ c: PGDConfiguration, lower: Tensor, upper: Tensor, rng: inout SeededRandom,
                      slice: BatchSlice? = nil) -> Tensor {
        guard c.randomStart else { return x }
        var noise: Tensor
        if let slice {
            precondition(slice.rows.count == x.shape[0], "slice of \(slice.rows.count) rows for a batch of \(x.shape[0])")
            noise = Tensor.uniform(shape: [slice.total] + x.shape.dropFirst(), in: -c.epsilon...c.epsilon, using: &rng).rows(slice.rows)
        } else {
            noise = Tensor.uniform(shape: x.shape, in: -c.epsilon...c.epsilon, using: &rng)
        }
        return (x + noise).zipMap(lower, max).zipMap(upper, min)
    }

    /// x ← clip(x + step·sign(g), lower, upper), fused in one pass.
    static func signStep(_ x: inout Tensor, gradient g: Tensor, step: Float, lower: Tensor, upper: Tensor) {
        g.withUnsafeBufferPointer { gb in lower.withUnsafeBufferPointer { lo in upper.withUnsafeBufferPointer { hi in
            x.withUnsafeMutableBufferPointer { xb in
                for i in 0..<xb.count {
                    let s: Float = gb[i] > 0 ? step : (gb[i] < 0 ? -step : 0)
                    xb[i] = min(max(xb[i] + s, lo[i]), hi[i])
                }
            }
        } } }
    }

    private static func copyRow(_ i: Int, of source: Tensor, into target: inout Tensor, inner: Int) {
        source.withUnsafeBufferPointer { s in
            target.withUnsafeMutableBufferPointer { t in
                (t.baseAddress! + i * inner).update(from: s.baseAddress! + i * inner, count: inner)
            }
        }
    }
}
