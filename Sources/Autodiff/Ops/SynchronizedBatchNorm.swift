import Cluster
import Tensors

/// Synchronised batch normalisation (PyTorch's `SyncBatchNorm`): the batch is spread over the ranks
/// of a data-parallel run, each rank holding its slice, and the per-channel statistics are those of
/// the whole batch. Forward, the per-channel sums behind mean and variance (two passes in double
/// precision, as the one-process kernel) are all-reduced; backward, so are Σ dy and Σ dy·x̂. So N
/// ranks compute what one process computes on the whole batch, up to the order of floating-point sums.
///
/// Parameter gradients stay each rank's own share (its slice's Σ dy·x̂ and Σ dy): the data-parallel
/// trainer's gradient all-reduction sums them, as it sums every other parameter's. The input gradient
/// uses the global sums and the global count M = Σ over ranks of N·H·W:
///     dx = γσ⁻¹·dy − γσ⁻¹/M·Σ dy − γσ⁻¹²/M·(x − μ)·Σ dy·(x − μ)σ⁻¹
/// Cost per call: three all-reductions of C (forward: 2·C + 1 and C doubles; backward: 2·C doubles).
/// Shapes: x N×C×H×W (this rank's slice), γ and β C.
public func synchronizedBatchNorm(_ x: Variable, gamma: Variable, beta: Variable, epsilon: Float = 1e-5, relu: Bool = false,
                                  communicator: Communicator) -> (output: Variable, statistics: BatchNormForwardResult) {
    let (n, c, h, w) = x.value.nchw
    let plane = h * w
    // Pass 1: Σ x per channel, and the count, over every rank. Per (image, channel) a float sum over
    // the plane, accumulated in double, as the one-process reference kernel does; in x's own layout.
    var sums = x.value.channelSums() + [0]
    sums[c] = Double(n * plane)
    sums = communicator.allreduceSum(sums)
    let m = sums[c]
    precondition(m > 1, "batch norm in training mode needs more than one value per channel, got \(m) over all ranks")
    let mean = Tensor(shape: [c], values: (0..<c).map { Float(sums[$0] / m) })
    // Pass 2: Σ (x − μ)² per channel over every rank.
    var deviations = x.value.channelSums(center: mean.scalars)
    deviations = communicator.allreduceSum(deviations)
    let biased = Tensor(shape: [c], values: deviations.map { Float($0 / m) })
    let unbiased = Tensor(shape: [c], values: deviations.map { Float($0 / (m - 1)) })
    // Normalise with the global statistics: the backend's fixed-statistics path is exactly y = γ·x̂ + β.
    var saved = Tensor.backend.batchNormForward(x.value, gamma: gamma.value, beta: beta.value,
                                                mode: .fixed(mean: mean, variance: biased), epsilon: epsilon, relu: relu)
    let y = saved.output
    saved.output = Tensor(shape: [0])
    let out = x.recordingTape.record(y, inputs: [x, gamma, beta]) { [saved, beta = beta.slot] dy in
        // Fixed-statistics backward: dx₀ = γσ⁻¹·dy (masked by a fused ReLU), dγ = Σ dy·x̂, dβ = Σ dy (this rank's).
        let (dx0, dg, db) = Tensor.backend.batchNormBackward(gradOutput: dy, input: x.value, gamma: gamma.value, saved: saved,
                                                             reluOutput: relu ? y : nil, needInput: x.requiresGradient, needAffine: true)
        if gamma.requiresGradient, let dg { gamma.accumulateGradient(dg) }
        if beta.requiresGradient, let db { beta.accumulateGradient(db) }
        guard x.requiresGradient, var dx = dx0, let dg, let db else { return }
        var global = [Double](repeating: 0, count: 2 * c)
        db.withUnsafeBufferPointer { b in dg.withUnsafeBufferPointer { g in
            for ch in 0..<c { global[ch] = Double(b[ch]); global[c + ch] = Double(g[ch]) }
        } }
        global = communicator.allreduceSum(global)
        let mf = Float(m)
        let gammas = gamma.value.scalars, means = saved.mean.scalars, inverse = saved.inverseStd.scalars
        // dx = dx₀ + b + k·(x − μ) per channel, with the global sums (see the formula above).
        var offsets = [Float](repeating: 0, count: c), slopes = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let a = gammas[ch] * inverse[ch]
            offsets[ch] = -a * Float(global[ch]) / mf
            slopes[ch] = -a * Float(global[c + ch]) * inverse[ch] / mf
        }
        addChannelLinear(to: &dx, of: x.value, offsets: offsets, slopes: slopes, centers: means)
        x.accumulateGradient(dx)
    }
    saved.output = y
    saved.unbiasedVariance = unbiased
    return (out, saved)
}

/// The communicator whose ranks share batch-norm statistics in training mode, for the code running
/// inside `withValue` (the data-parallel trainer binds it around each step's training-mode passes);
/// nil, or a one-process communicator, means plain per-process batch norm.
public enum BatchNormSynchronization {
    @TaskLocal public static var communicator: Communicator?
}

/// dx += offsets[c] + slopes[c]·(x − centers[c]) for every element of channel c, in dx's layout (x is
/// read in the same one).
private func addChannelLinear(to dx: inout Tensor, of x: Tensor, offsets: [Float], slopes: [Float], centers: [Float]) {
    let (n, c, h, w) = x.nchw
    let plane = h * w
    let x = x.converted(to: dx.layout)
    let dxP = dx.withUnsafeMutableStorage { b, _ in SendablePointer(b) }
    let layout = dx.layout
    offsets.withUnsafeBufferPointer { ob in slopes.withUnsafeBufferPointer { sb in centers.withUnsafeBufferPointer { cb in
    x.withUnsafeStorage { xb, _ in
        let oP = SendablePointer(ob), sP = SendablePointer(sb), cP = SendablePointer(cb), xP = SendablePointer(xb)
        if layout == .plain {
            Parallel.forEachChunk(c) { _, channels in
                for ch in channels {
                    let b = oP[ch], k = sP[ch], mu = cP[ch]
                    for i in 0..<n {
                        let o = (i * c + ch) * plane
                        for j in o..<o + plane { dxP[j] += b + k * (xP[j] - mu) }
                    }
                }
            }
        } else {
            let blocks = c / 16
            Parallel.forEachChunk(blocks) { _, range in
                for block in range {
                    let load = { (p: SendablePointer<Float>) in UnsafeRawPointer(p.base + block * 16).loadUnaligned(as: SIMD16<Float>.self) }
                    let b = load(oP), k = load(sP), mu = load(cP)
                    for i in 0..<n {
                        let o = (i * blocks + block) * plane * 16
                        for p in 0..<plane {
                            let at = o + p * 16
                            let v = UnsafeRawPointer(xP.base + at).loadUnaligned(as: SIMD16<Float>.self)
                            let d = UnsafeRawPointer(dxP.base + at).loadUnaligned(as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(dxP.base + at).storeBytes(of: d + b + k * (v - mu), as: SIMD16<Float>.self)
                        }
                    }
                }
            }
        }
    } } } }
}
