/// Batch normalisation over N, H, W for each channel, parallel over channels.
///
/// Forward:  x̂ = (x − μ)·σ⁻¹,  y = γ·x̂ + β, with σ⁻¹ = 1/√(var + ε) (biased batch variance, as PyTorch).
/// Backward (batch statistics, M = N·H·W values per channel):
///     dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ·σ⁻¹/M · (M·dy − dβ − x̂·dγ)
/// With fixed statistics (evaluation) the layer is affine: dx = γ·σ⁻¹·dy.
extension CPUBackend {
    public func batchNormForward(_ x: Tensor, gamma: Tensor, beta: Tensor, mode: BatchNormMode, epsilon: Float,
                                 relu: Bool = false) -> BatchNormForwardResult {
        let (n, c, h, w) = x.nchw
        let plane = h * w, m = n * plane
        precondition(gamma.count == c && beta.count == c, "batch norm parameters of size \(gamma.count) for \(c) channels")
        var mean = Tensor(shape: [c]), invStd = Tensor(shape: [c])
        var unbiased: Tensor? = nil
        switch mode {
        case .batchStatistics:
            precondition(m > 1, "batch norm in training mode needs more than one value per channel, got input \(x.shape)")
            var variance = Tensor(shape: [c])
            let meanP = mean.withUnsafeMutableBufferPointer { SendablePointer($0) }
            let invP = invStd.withUnsafeMutableBufferPointer { SendablePointer($0) }
            let varP = variance.withUnsafeMutableBufferPointer { SendablePointer($0) }
            x.withUnsafeBufferPointer { xb in
                let xP = SendablePointer(xb)
                Parallel.forEachChunk(c) { _, channels in
                    for ch in channels {
                        // Two passes in Double: the mean first, then squared deviations (stable for large M).
                        var s = 0.0
                        for i in 0..<n { s += Double(sum(xP.base + (i * c + ch) * plane, plane)) }
                        let mu = s / Double(m)
                        var v = 0.0
                        for i in 0..<n { v += Double(sumSquaredDeviation(xP.base + (i * c + ch) * plane, plane, from: Float(mu))) }
                        meanP[ch] = Float(mu)
                        invP[ch] = Float(1 / (v / Double(m) + Double(epsilon)).squareRoot())
                        varP[ch] = Float(v / Double(m - 1))
                    }
                }
            }
            unbiased = variance
        case let .fixed(runningMean, runningVariance):
            mean = runningMean
            invStd = Tensor(shape: [c]) { out in
                runningVariance.withUnsafeBufferPointer { v in
                    for ch in 0..<c { out[ch] = 1 / (v[ch] + epsilon).squareRoot() }
                }
            }
        }
        let output = Tensor(shape: x.shape) { y in
            let yP = SendablePointer(y)
            x.withUnsafeBufferPointer { xb in mean.withUnsafeBufferPointer { mb in invStd.withUnsafeBufferPointer { ib in
            gamma.withUnsafeBufferPointer { gb in beta.withUnsafeBufferPointer { bb in
                let xP = SendablePointer(xb), mP = SendablePointer(mb), iP = SendablePointer(ib)
                let gP = SendablePointer(gb), bP = SendablePointer(bb)
                Parallel.forEachChunk(n * c, minimumChunk: 4) { _, planes in
                    for p in planes {
                        let ch = p % c
                        let scale = gP[ch] * iP[ch], shift = bP[ch] - mP[ch] * scale
                        let src = xP.base + p * plane, dst = yP.base + p * plane
                        if relu {
                            for j in 0..<plane { dst[j] = max(src[j] * scale + shift, 0) }
                        } else {
                            for j in 0..<plane { dst[j] = src[j] * scale + shift }
                        }
                    }
                }
            } } } } }
        }
        return BatchNormForwardResult(output: output, mean: mean, inverseStd: invStd, unbiasedVariance: unbiased)
    }

    public func batchNormBackward(gradOutput dy: Tensor, input x: Tensor, gamma: Tensor, saved: BatchNormForwardResult,
                                  reluOutput: Tensor? = nil, needInput: Bool, needAffine: Bool) -> (input: Tensor?, gamma: Tensor?, beta: Tensor?) {
        let (n, c, h, w) = x.nchw
        let plane = h * w, m = Float(n * plane)
        let batchStatistics = saved.unbiasedVariance != nil
        var dGamma = Tensor(shape: [c]), dBeta = Tensor(shape: [c])
        // Every element of dx is written below, so it starts uninitialised.
        var dx: Tensor? = needInput ? Tensor(shape: x.shape) { _ in } : nil
        let dgP = dGamma.withUnsafeMutableBufferPointer { SendablePointer($0) }
        let dbP = dBeta.withUnsafeMutableBufferPointer { SendablePointer($0) }
        let dxP: SendablePointer<Float>? = needInput ? dx!.withUnsafeMutableBufferPointer { SendablePointer($0) } : nil
        let mask = reluOutput ?? Tensor(shape: [0])
        let masked = reluOutput != nil
        dy.withUnsafeBufferPointer { dyb in x.withUnsafeBufferPointer { xb in gamma.withUnsafeBufferPointer { gb in
        saved.mean.withUnsafeBufferPointer { mb in saved.inverseStd.withUnsafeBufferPointer { ib in mask.withUnsafeBufferPointer { yb in
            let dyP = SendablePointer(dyb), xP = SendablePointer(xb), gP = SendablePointer(gb)
            let yP: SendablePointer<Float>? = masked ? SendablePointer(yb) : nil
            let mP = SendablePointer(mb), iP = SendablePointer(ib)
            Parallel.forEachChunk(c) { _, channels in
                for ch in channels {
                    let mu = mP[ch], inv = iP[ch]
                    var sdy = 0.0, sdyx = 0.0
                    if needAffine || batchStatistics {
                        for i in 0..<n {
                            let o = (i * c + ch) * plane
                            if let yP {
                                let (s, d) = maskedSums(dyP.base + o, mask: yP.base + o, xP.base + o, plane, center: mu)
                                sdy += Double(s); sdyx += Double(d)
                            } else {
                                sdy += Double(sum(dyP.base + o, plane))
                                sdyx += Double(dotCentered(dyP.base + o, xP.base + o, plane, center: mu))
                            }
                        }
                    }
                    let dbeta = Float(sdy), dgamma = Float(sdyx) * inv
                    dgP[ch] = dgamma; dbP[ch] = dbeta
                    guard let dxP else { continue }
                    let g = gP[ch]
                    for i in 0..<n {
                        let o = (i * c + ch) * plane
                        let d = dyP.base + o, xs = xP.base + o, out = dxP.base + o
                        // dx = γσ⁻¹·dy − γσ⁻¹/M·dβ − γσ⁻¹/M·x̂·dγ, with x̂ = (x − μ)σ⁻¹ (the last two vanish
                        // with fixed statistics); dy is zero where a fused ReLU was off.
                        let a = g * inv
                        let b = batchStatistics ? -a * dbeta / m : 0, cc = batchStatistics ? -a * dgamma * inv / m : 0
                        batchNormInputGradient(d, mask: yP.map { UnsafePointer($0.base + o) }, xs, out, plane,
                                               a: a, b: b, c: cc, center: mu)
                    }
                }
            }
        } } } } } }
        return (dx, needAffine ? dGamma : nil, needAffine ? dBeta : nil)
    }
}

/// Σ p[i], with eight independent accumulators so the loop vectorises under strict floating point.
@inline(__always)
func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < count { s += p[i]; i += 1 }
    return s
}

/// out = a·dy' + b + c·(x − center), dy' = dy masked to 0 where `mask` ≤ 0 (a fused ReLU was off).
/// Written with SIMD8 because the compiler leaves the masked loop scalar.
@inline(__always)
func batchNormInputGradient(_ dy: UnsafePointer<Float>, mask y: UnsafePointer<Float>?, _ x: UnsafePointer<Float>,
                            _ out: UnsafeMutablePointer<Float>, _ count: Int, a: Float, b: Float, c: Float, center: Float) {
    let a8 = SIMD8<Float>(repeating: a), b8 = SIMD8<Float>(repeating: b), c8 = SIMD8<Float>(repeating: c)
    let m8 = SIMD8<Float>(repeating: center), zero = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        var g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
        if let y { g.replace(with: 0, where: UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self) .<= zero) }
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(out + i).storeBytes(of: a8 * g + b8 + c8 * (xv - m8), as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        let g = y.map { $0[i] > 0 ? dy[i] : 0 } ?? dy[i]
        out[i] = a * g + b + c * (x[i] - center)
        i += 1
    }
}

/// (Σ dy·[y > 0], Σ dy·[y > 0]·(x − center)): batch norm's gradient sums behind a fused ReLU.
@inline(__always)
func maskedSums(_ dy: UnsafePointer<Float>, mask y: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int,
                center: Float) -> (Float, Float) {
    var s8 = SIMD8<Float>(), d8 = SIMD8<Float>()
    let c8 = SIMD8<Float>(repeating: center), zero = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
            .replacing(with: 0, where: UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self) .<= zero)
        s8 += g
        d8 += g * (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - c8)
        i += 8
    }
    var s = s8.sum(), d = d8.sum()
    while i < count {
        if y[i] > 0 { s += dy[i]; d += dy[i] * (x[i] - center) }
        i += 1
    }
    return (s, d)
}

/// Σ (p[i] − center)²
@inline(__always)
func sumSquaredDeviation(_ p: UnsafePointer<Float>, _ count: Int, from center: Float) -> Float {
    var acc = SIMD8<Float>()
    let c8 = SIMD8<Float>(repeating: center)
    var i = 0
    while i + 8 <= count {
        let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - c8
        acc += d * d
        i += 8
    }
    var s = acc.sum()
    while i < count { let d = p[i] - center; s += d * d; i += 1 }
    return s
}

/// Σ a[i]·(b[i] − center)
@inline(__always)
func dotCentered(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int, center: Float) -> Float {
    var acc = SIMD8<Float>()
    let c8 = SIMD8<Float>(repeating: center)
    var i = 0
    while i + 8 <= count {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * (UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self) - c8)
        i += 8
    }
    var s = acc.sum()
    while i < count { s += a[i] * (b[i] - center); i += 1 }
    return s
}
