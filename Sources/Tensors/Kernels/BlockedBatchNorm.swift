/// Batch normalisation with its fused ReLU on channel-blocked (`nChw16c`) tensors, parallel over
/// images: the kernel the oneDNN backend runs where a tensor has fewer 16-channel blocks than threads
/// (ResNet-20's 16-channel layers on two threads).
///
/// Why our own kernel there: oneDNN 2.6 splits such a tensor's images across its threads and joins
/// them with spin barriers, which stall whenever another process takes a core for a moment
/// (`DNNLBackend.runsBlockedKernel`), so the backend had run oneDNN's on one thread per block — half
/// the machine on the largest activations of the network. Here each pass is one parallel loop over chunks of images, joined
/// by the worker pool (OpenMP: a short spin, then sleep), and one SIMD16 load holds a pixel's 16 channels.
///
/// Formulas as the reference (`CPUBackend+BatchNorm`): x̂ = (x − μ)·σ⁻¹, σ⁻¹ = 1/√(var + ε) with the
/// biased batch variance, y = γ·x̂ + β (then max(·, 0) with `relu`); backward, with dy′ = dy masked where
/// the ReLU's output was ≤ 0, dβ = Σ dy′, dγ = Σ dy′·x̂, dx = γσ⁻¹/M·(M·dy′ − dβ − x̂·dγ) (M = N·H·W), or
/// dx = γσ⁻¹·dy′ with fixed statistics. Mean and variance in two passes, as the reference: per (image,
/// block) a float sum over the plane, accumulated in double (the reference splits each plane sum over
/// eight float accumulators and takes σ⁻¹ in double: the two agree to rounding, DNNLBatchNormTests).
/// Each chunk's partial sums are added in chunk order, so results are reproducible for a fixed thread
/// count; other thread counts may differ in rounding. Shapes: x N×C×H×W with C a multiple of 16, γ, β C.
enum BlockedBatchNorm {
    static func forward(_ x: Tensor, gamma: Tensor, beta: Tensor, mode: BatchNormMode, epsilon: Float, relu: Bool) -> BatchNormForwardResult {
        precondition(x.layout == .channelBlocked16, "blocked batch norm of a \(x.layout) tensor")
        let (n, c, h, w) = x.nchw
        precondition(c % 16 == 0, "blocked batch norm of \(c) channels (not whole 16-channel blocks)")
        let m = n * h * w
        precondition(gamma.count == c && beta.count == c, "batch norm parameters of size \(gamma.count) for \(c) channels")
        let mean: [Float], variance: [Float]
        var unbiased: Tensor? = nil
        switch mode {
        case .batchStatistics:
            precondition(m > 1, "batch norm in training mode needs more than one value per channel, got input \(x.shape)")
            let zero = [Float](repeating: 0, count: c)
            mean = channelSums(x, center: zero, squared: false).map { Float($0 / Double(m)) }
            let deviations = channelSums(x, center: mean, squared: true)
            variance = deviations.map { Float($0 / Double(m)) }
            unbiased = Tensor(shape: [c], values: deviations.map { Float($0 / Double(m - 1)) })
        case let .fixed(runningMean, runningVariance):
            mean = runningMean.scalars
            variance = runningVariance.scalars
        }
        let inverseStd = variance.map { 1 / ($0 + epsilon).squareRoot() }
        let gammas = gamma.scalars, betas = beta.scalars
        var scale = [Float](repeating: 0, count: c), shift = scale
        for ch in 0..<c {
            scale[ch] = gammas[ch] * inverseStd[ch]
            shift[ch] = betas[ch] - mean[ch] * scale[ch]
        }
        let output = Tensor(shape: x.shape, layout: .channelBlocked16) { out in
            let y = SendablePointer(out)
            x.withUnsafeStorage { xb, _ in scale.withUnsafeBufferPointer { sb in shift.withUnsafeBufferPointer { tb in
                let x = SendablePointer(xb), s = SendablePointer(sb), t = SendablePointer(tb)
                forEachTile(n: n, blocks: c / 16) { tile, block in
                    let a = vector(s, block), b = vector(t, block), zero = SIMD16<Float>()
                    let o = tile * h * w * 16
                    for p in stride(from: o, to: o + h * w * 16, by: 16) {
                        let v = vector(x, at: p) * a + b
                        store(relu ? v.replacing(with: zero, where: v .< zero) : v, y, at: p)
                    }
                }
            } } }
        }
        return BatchNormForwardResult(output: output, mean: Tensor(shape: [c], values: mean),
                                      inverseStd: Tensor(shape: [c], values: inverseStd), unbiasedVariance: unbiased,
                                      variance: Tensor(shape: [c], values: variance), epsilon: epsilon)
    }

    /// `reluOutput`: the forward output, whose non-positive elements mark where a fused ReLU was off.
    static func backward(gradOutput dy: Tensor, input x: Tensor, gamma: Tensor, saved: BatchNormForwardResult, reluOutput: Tensor?,
                         needInput: Bool, needAffine: Bool) -> (input: Tensor?, gamma: Tensor?, beta: Tensor?) {
        precondition(x.layout == .channelBlocked16, "blocked batch norm of a \(x.layout) tensor")
        let (n, c, h, w) = x.nchw
        let m = Float(n * h * w)
        let batchStatistics = saved.unbiasedVariance != nil
        let dy = dy.converted(to: .channelBlocked16), mask = reluOutput?.converted(to: .channelBlocked16)
        let mean = saved.mean.scalars, inverseStd = saved.inverseStd.scalars
        // Σ dy′ and Σ dy′·(x − μ) per channel, in one pass; dx with fixed statistics needs neither.
        let sums = needAffine || batchStatistics ? gradientSums(dy, mask: mask, x: x, mean: mean) : [Double](repeating: 0, count: 2 * c)
        let dBeta = (0..<c).map { Float(sums[$0]) }
        let dGamma = (0..<c).map { Float(sums[c + $0]) * inverseStd[$0] }
        let affine = needAffine ? (Tensor(shape: [c], values: dGamma), Tensor(shape: [c], values: dBeta)) : nil
        guard needInput else { return (nil, affine?.0, affine?.1) }
        // dx = a·dy′ + b + k·(x − μ) per channel; the four per-channel vectors a, b, k, μ one after another.
        let gammas = gamma.scalars
        var coefficients = [Float](repeating: 0, count: 4 * c)
        for ch in 0..<c {
            let a = gammas[ch] * inverseStd[ch]
            coefficients[ch] = a
            if batchStatistics {
                coefficients[c + ch] = -a * dBeta[ch] / m
                coefficients[2 * c + ch] = -a * dGamma[ch] * inverseStd[ch] / m
            }
            coefficients[3 * c + ch] = mean[ch]
        }
        let dx = Tensor(shape: x.shape, layout: .channelBlocked16) { out in
            let dxP = SendablePointer(out)
            dy.withUnsafeStorage { gb, _ in x.withUnsafeStorage { xb, _ in (mask ?? dy).withUnsafeStorage { yb, _ in
            coefficients.withUnsafeBufferPointer { cb in
                let g = SendablePointer(gb), x = SendablePointer(xb), y = SendablePointer(yb), masked = mask != nil
                let cP = SendablePointer(cb)
                forEachTile(n: n, blocks: c / 16) { tile, block in
                    let a = vector(cP, block), b = vector(cP, at: c + block * 16)
                    let k = vector(cP, at: 2 * c + block * 16), mu = vector(cP, at: 3 * c + block * 16)
                    let zero = SIMD16<Float>(), o = tile * h * w * 16
                    for p in stride(from: o, to: o + h * w * 16, by: 16) {
                        var d = vector(g, at: p)
                        if masked { d.replace(with: zero, where: vector(y, at: p) .<= zero) }
                        store(a * d + b + k * (vector(x, at: p) - mu), dxP, at: p)
                    }
                }
            } } } }
        }
        return (dx, affine?.0, affine?.1)
    }

    // MARK: Passes

    /// Per channel: Σ x, or Σ (x − center)² with `squared` (`Tensor.channelSums`).
    static func channelSums(_ x: Tensor, center: [Float], squared: Bool) -> [Double] {
        let (n, c, h, w) = x.nchw
        return x.withUnsafeStorage { xb, _ in center.withUnsafeBufferPointer { cb in
            let x = SendablePointer(xb), centers = SendablePointer(cb)
            return reduce(n: n, blocks: c / 16, values: 1) { images, blocks, into in
                for block in 0..<blocks {
                    let mu = vector(centers, block)
                    var total = SIMD16<Double>()
                    for image in images {
                        let o = (image * blocks + block) * h * w * 16
                        var acc = SIMD16<Float>()
                        for p in stride(from: o, to: o + h * w * 16, by: 16) {
                            let v = vector(x, at: p)
                            if squared { let d = v - mu; acc += d * d } else { acc += v }
                        }
                        total += SIMD16<Double>(acc)
                    }
                    into(0, block, total)
                }
            }
        } }
    }

    /// Per channel Σ dy′ (first c values), then Σ dy′·(x − μ) (next c), dy′ = dy masked by `mask` ≤ 0.
    private static func gradientSums(_ dy: Tensor, mask: Tensor?, x: Tensor, mean: [Float]) -> [Double] {
        let (n, c, h, w) = x.nchw
        return dy.withUnsafeStorage { gb, _ in x.withUnsafeStorage { xb, _ in (mask ?? dy).withUnsafeStorage { yb, _ in
        mean.withUnsafeBufferPointer { mb in
            let g = SendablePointer(gb), x = SendablePointer(xb), y = SendablePointer(yb), means = SendablePointer(mb)
            let masked = mask != nil
            return reduce(n: n, blocks: c / 16, values: 2) { images, blocks, into in
                for block in 0..<blocks {
                    let mu = vector(means, block), zero = SIMD16<Float>()
                    var totalDy = SIMD16<Double>(), totalDyX = SIMD16<Double>()
                    for image in images {
                        let o = (image * blocks + block) * h * w * 16
                        var sumDy = SIMD16<Float>(), sumDyX = SIMD16<Float>()
                        for p in stride(from: o, to: o + h * w * 16, by: 16) {
                            var d = vector(g, at: p)
                            if masked { d.replace(with: zero, where: vector(y, at: p) .<= zero) }
                            sumDy += d
                            sumDyX += d * (vector(x, at: p) - mu)
                        }
                        totalDy += SIMD16<Double>(sumDy)
                        totalDyX += SIMD16<Double>(sumDyX)
                    }
                    into(0, block, totalDy)
                    into(1, block, totalDyX)
                }
            }
        } } } }
    }

    /// Runs `body(images, blocks, into)` on contiguous chunks of the images, one per worker; `into(v,
    /// block, sums)` records a chunk's sums of value v for a block's 16 channels. Returns, per value v
    /// and channel, the chunks' sums added in chunk order: values·C doubles, value-major.
    private static func reduce(n: Int, blocks: Int, values: Int,
                               _ body: @Sendable (Range<Int>, Int, (Int, Int, SIMD16<Double>) -> Void) -> Void) -> [Double] {
        let chunks = Parallel.chunkCount(n)
        let width = values * blocks * 16
        var partials = [Double](repeating: 0, count: chunks * width)
        partials.withUnsafeMutableBufferPointer { pb in
            let partial = SendablePointer(pb)
            Parallel.forEachChunk(n) { chunk, images in
                body(images, blocks) { v, block, sums in
                    let o = chunk * width + (v * blocks + block) * 16
                    for k in 0..<16 { partial[o + k] = sums[k] }
                }
            }
        }
        var total = [Double](repeating: 0, count: width)
        for chunk in 0..<chunks { for i in 0..<width { total[i] += partials[chunk * width + i] } }
        return total
    }

    /// Calls `body(tile, block)` for every (image, block) tile of 16 channels × H·W pixels, tile =
    /// image·blocks + block, parallel over chunks of images.
    private static func forEachTile(n: Int, blocks: Int, _ body: @Sendable (Int, Int) -> Void) {
        Parallel.forEachChunk(n) { _, images in
            for image in images { for block in 0..<blocks { body(image * blocks + block, block) } }
        }
    }
}

/// The 16 floats at `p + offset` (one pixel of a 16-channel block, or a block's per-channel values).
@inline(__always)
private func vector(_ p: SendablePointer<Float>, at offset: Int) -> SIMD16<Float> {
    UnsafeRawPointer(p.base + offset).loadUnaligned(as: SIMD16<Float>.self)
}

/// Block `block`'s 16 per-channel values of a C-long array.
@inline(__always)
private func vector(_ p: SendablePointer<Float>, _ block: Int) -> SIMD16<Float> {
    vector(p, at: block * 16)
}

@inline(__always)
private func store(_ v: SIMD16<Float>, _ p: SendablePointer<Float>, at offset: Int) {
    UnsafeMutableRawPointer(p.base + offset).storeBytes(of: v, as: SIMD16<Float>.self)
}
