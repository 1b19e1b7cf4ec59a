extension Tensor {
    /// Per channel of an N×C×H×W tensor in either layout: Σ x, or Σ (x − center[c])² when `center` (C
    /// values) is given — the sums behind batch norm's mean and biased variance (two passes, stable for
    /// large N·H·W). Per (image, channel) a float sum over the plane, accumulated in double, as the
    /// batch-norm kernels sum: plain tensors parallel over channels (`CPUBackend+BatchNorm`), blocked
    /// ones over chunks of images (`BlockedBatchNorm`). Returns C doubles.
    public func channelSums(center: [Float]? = nil) -> [Double] {
        let (n, c, h, w) = nchw
        precondition(center == nil || center!.count == c, "\(center!.count) centres for \(c) channels")
        if layout == .channelBlocked16 {
            return BlockedBatchNorm.channelSums(self, center: center ?? [Float](repeating: 0, count: c), squared: center != nil)
        }
        let plane = h * w
        var sums = [Double](repeating: 0, count: c)
        let centers = center ?? [Float](repeating: 0, count: c), squared = center != nil
        sums.withUnsafeMutableBufferPointer { out in centers.withUnsafeBufferPointer { cb in withUnsafeBufferPointer { xb in
            let o = SendablePointer(out), cP = SendablePointer(cb), xP = SendablePointer(xb)
            Parallel.forEachChunk(c) { _, channels in
                for ch in channels {
                    var s = 0.0
                    for i in 0..<n {
                        let p = xP.base + (i * c + ch) * plane
                        s += Double(squared ? sumSquaredDeviation(p, plane, from: cP[ch]) : Tensors.sum(p, plane))
                    }
                    o[ch] = s
                }
            }
        } } }
        return sums
    }
}
