import Tensors

// The difference-of-logits-ratio losses of Croce & Hein 2020 ("Reliable evaluation of adversarial
// robustness with an ensemble of diverse parameter-free attacks", section 4). Both are per example and
// meant to be *maximised* by an attack; both are invariant to shifting and to positively rescaling the
// logits, which is what makes them robust to the logit scaling that fools cross-entropy attacks.
//
// With π the classes sorted by decreasing logit (z_π1 ≥ z_π2 ≥ …):
//
//   untargeted  DLR(z, y)    = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12)
//   targeted    DLR(z, y, t) = −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)
//
// Gradients, with u the numerator difference (z_y − z_m, m the runner-up class; or z_y − z_t) and D the
// denominator, L = −u/D:
//   ∂L/∂z_y = −1/D,  ∂L/∂z_m (or z_t) = +1/D,  ∂L/∂D = u/D², so
//   untargeted: ∂L/∂z_π1 += u/D²,  ∂L/∂z_π3 −= u/D²
//   targeted:   ∂L/∂z_π1 += u/D²,  ∂L/∂z_π3 −= u/(2D²),  ∂L/∂z_π4 −= u/(2D²)
// Contributions add where indices coincide (π1 is usually y for a correctly classified example), as the
// sort-based autograd of the reference implementation does. Ties are broken towards the lower class index.

private let dlrStabiliser: Float = 1e-12

/// The classes of one row with the four largest logits, largest first (ties: lower index first).
/// Rows with fewer than four classes fill the tail with −1.
@inline(__always)
private func topFour(_ z: UnsafeBufferPointer<Float>, row: Int, classes d: Int) -> (Int, Int, Int, Int) {
    var idx = (-1, -1, -1, -1)
    var val: (Float, Float, Float, Float) = (-.infinity, -.infinity, -.infinity, -.infinity)
    let base = row * d
    for j in 0..<d {
        let v = z[base + j]
        if idx.0 < 0 || v > val.0 {
            idx = (j, idx.0, idx.1, idx.2); val = (v, val.0, val.1, val.2)
        } else if idx.1 < 0 || v > val.1 {
            idx = (idx.0, j, idx.1, idx.2); val = (val.0, v, val.1, val.2)
        } else if idx.2 < 0 || v > val.2 {
            idx = (idx.0, idx.1, j, idx.2); val = (val.0, val.1, v, val.2)
        } else if idx.3 < 0 || v > val.3 {
            idx.3 = j; val.3 = v
        }
    }
    return idx
}

/// One row's untargeted DLR: (loss, runner-up m, π1, π3, u, D).
@inline(__always)
private func dlrRow(_ z: UnsafeBufferPointer<Float>, row: Int, classes d: Int, label y: Int)
    -> (loss: Float, m: Int, p1: Int, p3: Int, u: Float, denominator: Float) {
    let (p1, p2, p3, _) = topFour(z, row: row, classes: d)
    let m = p1 == y ? p2 : p1
    let base = row * d
    let u = z[base + y] - z[base + m]
    let den = z[base + p1] - z[base + p3] + dlrStabiliser
    return (-u / den, m, p1, p3, u, den)
}

/// One row's targeted DLR: (loss, π1, π3, π4, u, D).
@inline(__always)
private func targetedDLRRow(_ z: UnsafeBufferPointer<Float>, row: Int, classes d: Int, label y: Int, target t: Int)
    -> (loss: Float, p1: Int, p3: Int, p4: Int, u: Float, denominator: Float) {
    let (p1, _, p3, p4) = topFour(z, row: row, classes: d)
    let base = row * d
    let u = z[base + y] - z[base + t]
    let den = z[base + p1] - (z[base + p3] + z[base + p4]) / 2 + dlrStabiliser
    return (-u / den, p1, p3, p4, u, den)
}

private func checkLabels(_ labels: [Int], _ targets: [Int]?, rows n: Int, classes d: Int, minimumClasses: Int) {
    precondition(d >= minimumClasses, "the DLR loss needs at least \(minimumClasses) classes, not \(d)")
    precondition(labels.count == n, "\(labels.count) labels for \(n) logits")
    precondition(labels.allSatisfy { $0 >= 0 && $0 < d }, "a label is out of range for \(d) classes")
    if let targets {
        precondition(targets.count == n, "\(targets.count) targets for \(n) logits")
        precondition(targets.allSatisfy { $0 >= 0 && $0 < d }, "a target is out of range for \(d) classes")
    }
}

/// Untargeted DLR loss of N×D logits (D ≥ 3), one value per example: shape [N]. Maximise it to attack.
///
///     DLR(z, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12)
///
/// Negative while the example is classified correctly, positive once it is not. Back-propagate a sum
/// with `sum(dlrLoss(logits, labels: y))`, or seed `Tape.backward` with per-example weights.
public func dlrLoss(_ logits: Variable, labels: [Int]) -> Variable {
    let n = logits.shape[0], d = logits.shape[1]
    checkLabels(labels, nil, rows: n, classes: d, minimumClasses: 3)
    let z = logits.value
    let loss = z.withUnsafeBufferPointer { zb in
        Tensor(shape: [n]) { out in for i in 0..<n { out[i] = dlrRow(zb, row: i, classes: d, label: labels[i]).loss } }
    }
    return logits.recordingTape.record(loss, inputs: [logits]) { [logits = logits.slot] dy in
        let dz = z.withUnsafeBufferPointer { zb in dy.withUnsafeBufferPointer { g in
            Tensor(shape: [n, d], repeating: 0).withMutableRows { out in
                for i in 0..<n {
                    let r = dlrRow(zb, row: i, classes: d, label: labels[i])
                    let base = i * d, gi = g[i], inv = gi / r.denominator, q = gi * r.u / (r.denominator * r.denominator)
                    out[base + labels[i]] -= inv
                    out[base + r.m] += inv
                    out[base + r.p1] += q
                    out[base + r.p3] -= q
                }
            }
        } }
        logits.accumulateGradient(dz)
    }
}

/// Targeted DLR loss of N×D logits (D ≥ 4) towards `targets`, one value per example: shape [N].
/// Maximise it to push z_t above z_y.
///
///     DLR_t(z, y, t) = −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)
public func targetedDLRLoss(_ logits: Variable, labels: [Int], targets: [Int]) -> Variable {
    let n = logits.shape[0], d = logits.shape[1]
    checkLabels(labels, targets, rows: n, classes: d, minimumClasses: 4)
    let z = logits.value
    let loss = z.withUnsafeBufferPointer { zb in
        Tensor(shape: [n]) { out in
            for i in 0..<n { out[i] = targetedDLRRow(zb, row: i, classes: d, label: labels[i], target: targets[i]).loss }
        }
    }
    return logits.recordingTape.record(loss, inputs: [logits]) { [logits = logits.slot] dy in
        let dz = z.withUnsafeBufferPointer { zb in dy.withUnsafeBufferPointer { g in
            Tensor(shape: [n, d], repeating: 0).withMutableRows { out in
                for i in 0..<n {
                    let r = targetedDLRRow(zb, row: i, classes: d, label: labels[i], target: targets[i])
                    let base = i * d, gi = g[i], inv = gi / r.denominator, q = gi * r.u / (r.denominator * r.denominator)
                    out[base + labels[i]] -= inv
                    out[base + targets[i]] += inv
                    out[base + r.p1] += q
                    out[base + r.p3] -= q / 2
                    out[base + r.p4] -= q / 2
                }
            }
        } }
        logits.accumulateGradient(dz)
    }
}

/// Per-example untargeted DLR values (no gradient), for attacks that track each example's loss.
public func dlrLossPerExample(logits: Tensor, labels: [Int]) -> [Float] {
    let n = logits.shape[0], d = logits.shape[1]
    checkLabels(labels, nil, rows: n, classes: d, minimumClasses: 3)
    return logits.withUnsafeBufferPointer { zb in (0..<n).map { dlrRow(zb, row: $0, classes: d, label: labels[$0]).loss } }
}

/// Per-example targeted DLR values (no gradient).
public func targetedDLRLossPerExample(logits: Tensor, labels: [Int], targets: [Int]) -> [Float] {
    let n = logits.shape[0], d = logits.shape[1]
    checkLabels(labels, targets, rows: n, classes: d, minimumClasses: 4)
    return logits.withUnsafeBufferPointer { zb in
        (0..<n).map { targetedDLRRow(zb, row: $0, classes: d, label: labels[$0], target: targets[$0]).loss }
    }
}

/// Per-example margin z_y − max_{i≠y} z_i (no gradient): positive iff the example is classified
/// correctly (ties count as misclassified). The Square attack minimises it.
public func logitMarginPerExample(logits: Tensor, labels: [Int]) -> [Float] {
    let n = logits.shape[0], d = logits.shape[1]
    precondition(labels.count == n, "\(labels.count) labels for \(n) logits")
    return logits.withUnsafeBufferPointer { zb in
        (0..<n).map { i in
            let base = i * d, y = labels[i]
            var other = -Float.infinity
            for j in 0..<d where j != y { other = max(other, zb[base + j]) }
            return zb[base + y] - other
        }
    }
}

private extension Tensor {
    /// Mutates a fresh tensor in place and returns it (keeps the pullbacks above on unsafe buffers).
    func withMutableRows(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) -> Tensor {
        var t = self
        t.withUnsafeMutableBufferPointer(body)
        return t
    }
}
