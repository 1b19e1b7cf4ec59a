/// Max and average pooling over windows of a `Conv2DGeometry`, parallel over (image, channel) planes.
/// Padding counts as −∞ for max pooling and as zeros for average pooling (PyTorch's
/// `count_include_pad=True`), so the average always divides by the window size.
extension CPUBackend {
    public func maxPool2d(_ x: Tensor, geometry g: Conv2DGeometry) -> (output: Tensor, argmax: [Int32]) {
        let (n, c, h, w) = x.nchw
        let (oh, ow) = g.outputSize(height: h, width: w)
        var argmax = [Int32](repeating: 0, count: n * c * oh * ow)
        let output = argmax.withUnsafeMutableBufferPointer { ab in
            let aP = SendablePointer(ab)
            return Tensor(shape: [n, c, oh, ow]) { y in
                let yP = SendablePointer(y)
                x.withUnsafeBufferPointer { xb in
                    let xP = SendablePointer(xb)
                    Parallel.forEachChunk(n * c, minimumChunk: 4) { _, planes in
                        for p in planes {
                            let src = xP.base + p * h * w
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    var best = -Float.infinity, bestIndex = -1
                                    for kh in 0..<g.kernelHeight {
                                        let iy = oy * g.strideHeight - g.padHeight + kh
                                        guard iy >= 0 && iy < h else { continue }
                                        for kw in 0..<g.kernelWidth {
                                            let ix = ox * g.strideWidth - g.padWidth + kw
                                            guard ix >= 0 && ix < w else { continue }
                                            let v = src[iy * w + ix]
                                            if v > best || bestIndex < 0 { best = v; bestIndex = iy * w + ix }
                                        }
                                    }
                                    let o = (p * oh + oy) * ow + ox
                                    yP[o] = best
                                    aP[o] = Int32(bestIndex)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (output, argmax)
    }

    public func maxPool2dBackward(gradOutput dy: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
        let planes = inputShape[0] * inputShape[1], inPlane = inputShape[2] * inputShape[3]
        let outPlane = dy.count / max(planes, 1)
        return Tensor(shape: inputShape) { dx in
            dx.update(repeating: 0)
            let dxP = SendablePointer(dx)
            dy.withUnsafeBufferPointer { dyb in argmax.withUnsafeBufferPointer { ab in
                let dyP = SendablePointer(dyb), aP = SendablePointer(ab)
                Parallel.forEachChunk(planes, minimumChunk: 4) { _, range in
                    for p in range {
                        for j in 0..<outPlane {
                            let o = p * outPlane + j
                            dxP[p * inPlane + Int(aP[o])] += dyP[o]
                        }
                    }
                }
            } }
        }
    }

    public func avgPool2d(_ x: Tensor, geometry g: Conv2DGeometry) -> Tensor {
        let (n, c, h, w) = x.nchw
        let (oh, ow) = g.outputSize(height: h, width: w)
        let scale = 1 / Float(g.kernelHeight * g.kernelWidth)
        return Tensor(shape: [n, c, oh, ow]) { y in
            let yP = SendablePointer(y)
            x.withUnsafeBufferPointer { xb in
                let xP = SendablePointer(xb)
                Parallel.forEachChunk(n * c, minimumChunk: 4) { _, planes in
                    for p in planes {
                        let src = xP.base + p * h * w
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var s: Float = 0
                                for kh in 0..<g.kernelHeight {
                                    let iy = oy * g.strideHeight - g.padHeight + kh
                                    guard iy >= 0 && iy < h else { continue }
                                    for kw in 0..<g.kernelWidth {
                                        let ix = ox * g.strideWidth - g.padWidth + kw
                                        if ix >= 0 && ix < w { s += src[iy * w + ix] }
                                    }
                                }
                                yP[(p * oh + oy) * ow + ox] = s * scale
                            }
                        }
                    }
                }
            }
        }
    }

    public func avgPool2dBackward(gradOutput dy: Tensor, inputShape: [Int], geometry g: Conv2DGeometry) -> Tensor {
        let (h, w) = (inputShape[2], inputShape[3])
        let (oh, ow) = g.outputSize(height: h, width: w)
        let planes = inputShape[0] * inputShape[1]
        let scale = 1 / Float(g.kernelHeight * g.kernelWidth)
        return Tensor(shape: inputShape) { dx in
            dx.update(repeating: 0)
            let dxP = SendablePointer(dx)
            dy.withUnsafeBufferPointer { dyb in
                let dyP = SendablePointer(dyb)
                Parallel.forEachChunk(planes, minimumChunk: 4) { _, range in
                    for p in range {
                        let dst = dxP.base + p * h * w
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                let v = dyP[(p * oh + oy) * ow + ox] * scale
                                for kh in 0..<g.kernelHeight {
                                    let iy = oy * g.strideHeight - g.padHeight + kh
                                    guard iy >= 0 && iy < h else { continue }
                                    for kw in 0..<g.kernelWidth {
                                        let ix = ox * g.strideWidth - g.padWidth + kw
                                        if ix >= 0 && ix < w { dst[iy * w + ix] += v }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
