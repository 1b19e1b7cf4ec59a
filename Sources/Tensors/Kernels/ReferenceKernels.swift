/// Naive, obviously-correct versions of the fast kernels, for tests to compare against.
public enum Reference {
    /// Direct convolution by its definition: y[n,o,i,j] = Σ_{c,kh,kw} w[o,c,kh,kw]·x[n,c,i·s−p+kh, j·s−p+kw].
    public static func conv2d(_ x: Tensor, weight: Tensor, geometry g: Conv2DGeometry) -> Tensor {
        let (n, c, h, w) = x.nchw
        let o = weight.shape[0], (oh, ow) = g.outputSize(height: h, width: w)
        var y = Tensor(shape: [n, o, oh, ow])
        for b in 0..<n { for oc in 0..<o { for i in 0..<oh { for j in 0..<ow {
            var s: Double = 0
            for ic in 0..<c { for kh in 0..<g.kernelHeight { for kw in 0..<g.kernelWidth {
                let iy = i * g.strideHeight - g.padHeight + kh, ix = j * g.strideWidth - g.padWidth + kw
                if iy >= 0 && iy < h && ix >= 0 && ix < w { s += Double(weight[oc, ic, kh, kw]) * Double(x[b, ic, iy, ix]) }
            } } }
            y[b, oc, i, j] = Float(s)
        } } } }
        return y
    }
}
