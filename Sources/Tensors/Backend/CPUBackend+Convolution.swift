/// Convolution as im2col + SGEMM, tiled over the batch.
///
/// Each worker takes a contiguous slice of the batch and walks it in tiles of a few images, so that the
/// column buffer (C·KH·KW × tile pixels) stays cache-sized and every SGEMM is single-threaded. Small
/// feature maps (7×7, 14×14) batch several images into one product so the GEMM's N stays large enough
/// to run near peak; large maps use one image per product and write the output in place.
extension CPUBackend {
    /// Pixels per GEMM we aim for: enough columns for OpenBLAS's kernels, few enough to stay in cache.
    static let targetTileColumns = 512

    static func imagesPerTile(outputPixels: Int) -> Int { max(1, targetTileColumns / max(1, outputPixels)) }

    public func conv2d(_ x: Tensor, weight: Tensor, geometry g: Conv2DGeometry) -> Tensor {
        let (n, c, h, w) = x.nchw
        precondition(weight.rank == 4 && weight.shape[1] == c && weight.shape[2] == g.kernelHeight && weight.shape[3] == g.kernelWidth,
                     "conv2d weight \(weight.shape) does not match input \(x.shape) with \(g)")
        let o = weight.shape[0]
        let (oh, ow) = g.outputSize(height: h, width: w)
        let pixels = oh * ow, k = c * g.kernelHeight * g.kernelWidth
        let tile = Self.imagesPerTile(outputPixels: pixels)
        return Tensor(shape: [n, o, oh, ow]) { out in
            let outP = SendablePointer(out)
            x.withUnsafeBufferPointer { xb in weight.withUnsafeBufferPointer { wb in
                let xP = SendablePointer(xb), wP = SendablePointer(wb)
                Parallel.forEachChunk(n) { _, images in
                    if g.isPointwise {
                        for i in images {
                            sgemm(transA: false, transB: false, m: o, n: pixels, k: k, a: wP.base, lda: k,
                                  b: xP.base + i * c * h * w, ldb: pixels, beta: 0, c: outP.base + i * o * pixels, ldc: pixels)
                        }
                        return
                    }
                    let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * pixels * tile)
                    let staging = tile > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: o * pixels * tile) : nil
                    defer { cols.deallocate(); staging?.deallocate() }
                    var start = images.lowerBound
                    while start < images.upperBound {
                        let nb = min(tile, images.upperBound - start), columns = nb * pixels
                        for t in 0..<nb {
                            im2col(xP.base + (start + t) * c * h * w, channels: c, height: h, width: w, geometry: g,
                                   outHeight: oh, outWidth: ow, into: cols + t * pixels, rowStride: columns)
                        }
                        if nb == 1 {
                            sgemm(transA: false, transB: false, m: o, n: pixels, k: k, a: wP.base, lda: k,
                                  b: cols, ldb: pixels, beta: 0, c: outP.base + start * o * pixels, ldc: pixels)
                        } else {
                            sgemm(transA: false, transB: false, m: o, n: columns, k: k, a: wP.base, lda: k,
                                  b: cols, ldb: columns, beta: 0, c: staging!, ldc: columns)
                            for t in 0..<nb {
                                for ch in 0..<o {
                                    (outP.base + ((start + t) * o + ch) * pixels).update(from: staging! + ch * columns + t * pixels, count: pixels)
                                }
                            }
                        }
                        start += nb
                    }
                }
            } }
        }
    }

    public func conv2dBackward(gradOutput dy: Tensor, input x: Tensor, weight: Tensor, geometry g: Conv2DGeometry,
                               needInput: Bool, needWeight: Bool) -> (input: Tensor?, weight: Tensor?) {
        guard needInput || needWeight else { return (nil, nil) }
        let (n, c, h, w) = x.nchw
        let o = weight.shape[0], (oh, ow) = g.outputSize(height: h, width: w)
        precondition(dy.shape == [n, o, oh, ow], "conv2d gradient \(dy.shape) does not match output [\(n), \(o), \(oh), \(ow)]")
        // With stride 1 the input gradient is itself a convolution: dY with the weights flipped in space
        // and transposed in channels, padded by K−1−p. That reuses the forward path (a plain im2col
        // copy) instead of col2im's scattered read-modify-write, which costs as much as the product.
        let transposedInput = needInput && !g.isPointwise && g.strideHeight == 1 && g.strideWidth == 1
            && g.padHeight < g.kernelHeight && g.padWidth < g.kernelWidth
        var dx: Tensor? = nil
        if transposedInput {
            dx = conv2d(dy, weight: flippedTransposed(weight),
                        geometry: Conv2DGeometry(kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, strideHeight: 1, strideWidth: 1,
                                                 padHeight: g.kernelHeight - 1 - g.padHeight, padWidth: g.kernelWidth - 1 - g.padWidth))
        }
        let scatterInput = needInput && !transposedInput
        guard needWeight || scatterInput else { return (dx, nil) }

        let pixels = oh * ow, k = c * g.kernelHeight * g.kernelWidth
        let tile = Self.imagesPerTile(outputPixels: pixels)
        let chunks = Parallel.chunkCount(n)
        // One weight-gradient accumulator per worker, summed at the end: no locks in the hot loop.
        let partials = needWeight ? UnsafeMutablePointer<Float>.allocate(capacity: chunks * o * k) : nil
        partials?.initialize(repeating: 0, count: chunks * o * k)
        defer { partials?.deallocate() }
        if scatterInput { dx = Tensor(shape: x.shape) }
        let dxP: SendablePointer<Float>? = scatterInput ? dx!.withUnsafeMutableBufferPointer { SendablePointer($0) } : nil
        let partialsP = partials.map { SendablePointer($0) }
        dy.withUnsafeBufferPointer { dyb in x.withUnsafeBufferPointer { xb in weight.withUnsafeBufferPointer { wb in
            let dyP = SendablePointer(dyb), xP = SendablePointer(xb), wP = SendablePointer(wb)
            Parallel.forEachChunk(n) { chunk, images in
                let dwLocal = partialsP.map { $0.base + chunk * o * k }
                if g.isPointwise {
                    for i in images {
                        let dyI = dyP.base + i * o * pixels, xI = xP.base + i * c * h * w
                        if let dwLocal {
                            sgemm(transA: false, transB: true, m: o, n: k, k: pixels, a: dyI, lda: pixels,
                                  b: xI, ldb: pixels, beta: 1, c: dwLocal, ldc: k)
                        }
                        if let dxP {
                            sgemm(transA: true, transB: false, m: k, n: pixels, k: o, a: wP.base, lda: k,
                                  b: dyI, ldb: pixels, beta: 0, c: dxP.base + i * c * h * w, ldc: pixels)
                        }
                    }
                    return
                }
                let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * pixels * tile)
                let gathered = tile > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: o * pixels * tile) : nil
                defer { cols.deallocate(); gathered?.deallocate() }
                var start = images.lowerBound
                while start < images.upperBound {
                    let nb = min(tile, images.upperBound - start), columns = nb * pixels
                    // dY of the tile as one O × (nb·pixels) matrix.
                    let dyTile: UnsafePointer<Float>
                    if nb == 1 {
                        dyTile = UnsafePointer(dyP.base + start * o * pixels)
                    } else {
                        for t in 0..<nb {
                            for ch in 0..<o {
                                (gathered! + ch * columns + t * pixels).update(from: dyP.base + ((start + t) * o + ch) * pixels, count: pixels)
                            }
                        }
                        dyTile = UnsafePointer(gathered!)
                    }
                    if let dwLocal {
                        for t in 0..<nb {
                            im2col(xP.base + (start + t) * c * h * w, channels: c, height: h, width: w, geometry: g,
                                   outHeight: oh, outWidth: ow, into: cols + t * pixels, rowStride: columns)
                        }
                        // dW += dY · colsᵀ
                        sgemm(transA: false, transB: true, m: o, n: k, k: columns, a: dyTile, lda: columns,
                              b: cols, ldb: columns, beta: 1, c: dwLocal, ldc: k)
                    }
                    if let dxP {
                        // dcols = Wᵀ · dY, then scattered back onto the input grid.
                        sgemm(transA: true, transB: false, m: k, n: columns, k: o, a: wP.base, lda: k,
                              b: dyTile, ldb: columns, beta: 0, c: cols, ldc: columns)
                        for t in 0..<nb {
                            col2imAccumulate(cols + t * pixels, rowStride: columns, channels: c, height: h, width: w,
                                             geometry: g, outHeight: oh, outWidth: ow, into: dxP.base + (start + t) * c * h * w)
                        }
                    }
                    start += nb
                }
            }
        } } }

        var dw: Tensor? = nil
        if let partials {
            dw = Tensor(shape: weight.shape) { out in
                out.update(repeating: 0)
                for chunk in 0..<chunks {
                    let p = partials + chunk * o * k
                    for i in 0..<o * k { out[i] += p[i] }
                }
            }
        }
        return (dx, dw)
    }

    /// W'[c, o, i, j] = W[o, c, KH−1−i, KW−1−j]: the weights of the transposed (input-gradient) convolution.
    func flippedTransposed(_ weight: Tensor) -> Tensor {
        let (o, c, kh, kw) = weight.nchw
        return weight.withUnsafeBufferPointer { src in
            Tensor(shape: [c, o, kh, kw]) { dst in
                for oc in 0..<o { for ic in 0..<c { for i in 0..<kh { for j in 0..<kw {
                    dst[((ic * o + oc) * kh + i) * kw + j] = src[((oc * c + ic) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)]
                } } } }
            }
        }
    }
}

/// Unfolds one image (C×H×W) into columns: row (c, kh, kw), column (oh, ow), zero outside the image.
@inline(__always)
func im2col(_ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, geometry g: Conv2DGeometry,
            outHeight: Int, outWidth: Int, into cols: UnsafeMutablePointer<Float>, rowStride: Int) {
    if g.strideHeight == 1 && g.strideWidth == 1 && outHeight == height && outWidth == width {
        im2colSame(x, channels: channels, height: height, width: width, geometry: g, into: cols, rowStride: rowStride)
        return
    }
    var row = cols
    for ch in 0..<channels {
        let plane = x + ch * height * width
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                for oy in 0..<outHeight {
                    let iy = oy * g.strideHeight - g.padHeight + kh
                    let dst = row + oy * outWidth
                    guard iy >= 0 && iy < height else { dst.update(repeating: 0, count: outWidth); continue }
                    let src = plane + iy * width
                    if g.strideWidth == 1 {
                        let shift = kw - g.padWidth
                        let lo = max(0, -shift), hi = min(outWidth, width - shift)
                        if lo > 0 { dst.update(repeating: 0, count: min(lo, outWidth)) }
                        if hi > lo { (dst + lo).update(from: src + lo + shift, count: hi - lo) }
                        if hi < outWidth { (dst + max(hi, 0)).update(repeating: 0, count: outWidth - max(hi, 0)) }
                    } else {
                        for ox in 0..<outWidth {
                            let ix = ox * g.strideWidth - g.padWidth + kw
                            dst[ox] = ix >= 0 && ix < width ? src[ix] : 0
                        }
                    }
                }
                row += rowStride
            }
        }
    }
}

/// `im2col` for stride-1 "same" convolutions (output as large as the input): each row is the whole
/// plane shifted by (kh − p)·W + (kw − p), so it is one contiguous copy plus zeroed borders, instead
/// of a short copy per output row.
@inline(__always)
func im2colSame(_ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, geometry g: Conv2DGeometry,
                into cols: UnsafeMutablePointer<Float>, rowStride: Int) {
    let plane = height * width
    var row = cols
    for ch in 0..<channels {
        let src = x + ch * plane
        for kh in 0..<g.kernelHeight {
            let dy = kh - g.padHeight
            // Output rows whose source row lies inside the image.
            let yLo = max(0, -dy), yHi = min(height, height - dy)
            for kw in 0..<g.kernelWidth {
                let dx = kw - g.padWidth
                if yHi > yLo {
                    let first = yLo * width, count = (yHi - yLo) * width
                    // Shifting by dx wraps across row ends; those entries are zeroed below.
                    let from = first + dy * width + dx
                    let lo = max(0, -from), hi = min(count, plane - from)
                    if lo > 0 { (row + first).update(repeating: 0, count: lo) }
                    if hi > lo { (row + first + lo).update(from: src + from + lo, count: hi - lo) }
                    if hi < count { (row + first + max(hi, 0)).update(repeating: 0, count: count - max(hi, 0)) }
                }
                if yLo > 0 { row.update(repeating: 0, count: yLo * width) }
                if yHi < height { (row + yHi * width).update(repeating: 0, count: (height - yHi) * width) }
                if dx != 0 {
                    for y in yLo..<max(yLo, yHi) {
                        let r = row + y * width
                        if dx < 0 { for j in 0..<min(-dx, width) { r[j] = 0 } }
                        else { for j in max(0, width - dx)..<width { r[j] = 0 } }
                    }
                }
                row += rowStride
            }
        }
    }
}

/// The adjoint of `im2col`: adds every column entry back onto the input pixel it was read from.
@inline(__always)
func col2imAccumulate(_ cols: UnsafePointer<Float>, rowStride: Int, channels: Int, height: Int, width: Int,
                      geometry g: Conv2DGeometry, outHeight: Int, outWidth: Int, into dx: UnsafeMutablePointer<Float>) {
    var row = cols
    for ch in 0..<channels {
        let plane = dx + ch * height * width
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                for oy in 0..<outHeight {
                    let iy = oy * g.strideHeight - g.padHeight + kh
                    guard iy >= 0 && iy < height else { continue }
                    let src = row + oy * outWidth, dst = plane + iy * width
                    if g.strideWidth == 1 {
                        let shift = kw - g.padWidth
                        let lo = max(0, -shift), hi = min(outWidth, width - shift)
                        if hi > lo { for ox in lo..<hi { dst[ox + shift] += src[ox] } }
                    } else {
                        for ox in 0..<outWidth {
                            let ix = ox * g.strideWidth - g.padWidth + kw
                            if ix >= 0 && ix < width { dst[ix] += src[ox] }
                        }
                    }
                }
                row += rowStride
            }
        }
    }
}

extension Tensor {
    /// (N, C, H, W) of a rank-4 tensor.
    public var nchw: (Int, Int, Int, Int) {
        precondition(rank == 4, "expected an N×C×H×W tensor, got shape \(shape)")
        return (shape[0], shape[1], shape[2], shape[3])
    }
}
