import Foundation

/// The resampling filter of a resize.
public enum ResizeFilter: String, Sendable, Codable, CaseIterable {
    /// Box filter: each output pixel is the area-weighted mean of the input pixels it covers
    /// (OpenCV's INTER_AREA, Pillow's BOX). Best for shrinking.
    case area
    /// Triangle filter: bilinear interpolation when enlarging; when shrinking, its support widens
    /// with the scale so that every input pixel contributes (antialiased, as Pillow's BILINEAR).
    case bilinear

    var support: Double { self == .area ? 0.5 : 1.0 }

    func weight(_ x: Double) -> Double {
        switch self {
        case .area: return (x >= -0.5 && x < 0.5) ? 1 : 0
        case .bilinear: let a = abs(x); return a < 1 ? 1 - a : 0
        }
    }
}

/// Separable resampling of 8-bit images, in the manner of Pillow's `Image.resize` (so the two agree
/// to within rounding): per output pixel a normalised kernel over the input pixels, weights in
/// 22-bit fixed point, a horizontal pass to an 8-bit intermediate, then a vertical pass.
///
/// Shape contract: the input is H×W×C interleaved (`RawImage`); the output is written C×h×w
/// planar, as `ImageDataset` stores it. `box` selects a region of the input in pixel coordinates
/// (fractional allowed): a centre crop is a resize of a smaller box, at no extra cost.
enum Resampler {
    /// Fixed-point weights: one output pixel's kernel starts at input index `start`, `count` taps.
    struct Kernel {
        var start: [Int32]
        var count: [Int32]
        var weights: [Int32]   // outSize × taps, 22-bit fixed point
        var taps: Int
    }

    static let precisionBits: Int32 = 22

    /// The kernel mapping input coordinates [in0, in1) of an axis of `inSize` pixels to `outSize` pixels.
    static func kernel(inSize: Int, in0: Double, in1: Double, outSize: Int, filter: ResizeFilter) -> Kernel {
        let scale = (in1 - in0) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var start = [Int32](repeating: 0, count: outSize)
        var count = [Int32](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var real = [Double](repeating: 0, count: taps)
        let one = Double(1 << precisionBits)
        for xx in 0..<outSize {
            let center = in0 + (Double(xx) + 0.5) * scale
            // Int() truncates toward zero, as Pillow's (int) casts do.
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            let n = min(max(hi - lo, 0), taps)
            var total = 0.0
            for x in 0..<n {
                let w = filter.weight((Double(x + lo) - center + 0.5) / filterScale)
                real[x] = w
                total += w
            }
            start[xx] = Int32(lo)
            count[xx] = Int32(n)
            for x in 0..<n {
                let w = total != 0 ? real[x] / total : 0
                weights[xx * taps + x] = Int32((w * one).rounded(.toNearestOrAwayFromZero))
            }
        }
        return Kernel(start: start, count: count, weights: weights, taps: taps)
    }

    /// Resamples `box` of `image` to `outWidth`×`outHeight`, writing C×H×W planar bytes to `output`.
    static func resample(_ image: RawImage, box: (x0: Double, y0: Double, x1: Double, y1: Double),
                         outWidth: Int, outHeight: Int, filter: ResizeFilter,
                         into output: UnsafeMutablePointer<UInt8>) {
        let c = image.channels
        let kx = kernel(inSize: image.width, in0: box.x0, in1: box.x1, outSize: outWidth, filter: filter)
        let ky = kernel(inSize: image.height, in0: box.y0, in1: box.y1, outSize: outHeight, filter: filter)
        // Only the input rows the vertical pass reads go through the horizontal pass.
        let rowFirst = Int(ky.start[0])
        let rowLast = Int(ky.start[outHeight - 1] + ky.count[outHeight - 1])
        let rows = max(rowLast - rowFirst, 0)
        let half: Int32 = 1 << (precisionBits - 1)
        // Intermediate: rows × outWidth, channel-planar so the vertical pass runs over contiguous bytes.
        var middle = [UInt8](repeating: 0, count: c * rows * outWidth)
        image.pixels.withUnsafeBufferPointer { src in
            middle.withUnsafeMutableBufferPointer { mid in
                kx.start.withUnsafeBufferPointer { xs in
                kx.count.withUnsafeBufferPointer { xn in
                kx.weights.withUnsafeBufferPointer { xw in
                    let stride = image.width * c
                    for r in 0..<rows {
                        let line = src.baseAddress! + (r + rowFirst) * stride
                        for x in 0..<outWidth {
                            let s = Int(xs[x]), n = Int(xn[x])
                            let w = xw.baseAddress! + x * kx.taps
                            if c == 3 {
                                var a0 = half, a1 = half, a2 = half
                                var p = line + s * 3
                                for k in 0..<n {
                                    let wk = w[k]
                                    a0 &+= Int32(p[0]) &* wk
                                    a1 &+= Int32(p[1]) &* wk
                                    a2 &+= Int32(p[2]) &* wk
                                    p += 3
                                }
                                mid[(0 * rows + r) * outWidth + x] = clip8(a0)
                                mid[(1 * rows + r) * outWidth + x] = clip8(a1)
                                mid[(2 * rows + r) * outWidth + x] = clip8(a2)
                            } else {
                                for ch in 0..<c {
                                    var a = half
                                    for k in 0..<n { a &+= Int32(line[(s + k) * c + ch]) &* w[k] }
                                    mid[(ch * rows + r) * outWidth + x] = clip8(a)
                                }
                            }
                        }
                    }
                }}}
            }
        }
        // Vertical pass: accumulate whole rows, which the compiler vectorises.
        var accumulator = [Int32](repeating: 0, count: outWidth)
        middle.withUnsafeBufferPointer { mid in
            accumulator.withUnsafeMutableBufferPointer { acc in
                ky.start.withUnsafeBufferPointer { ys in
                ky.count.withUnsafeBufferPointer { yn in
                ky.weights.withUnsafeBufferPointer { yw in
                    for ch in 0..<c {
                        let plane = mid.baseAddress! + ch * rows * outWidth
                        for y in 0..<outHeight {
                            for x in 0..<outWidth { acc[x] = half }
                            let s = Int(ys[y]) - rowFirst, n = Int(yn[y])
                            for k in 0..<n {
                                let wk = yw[y * ky.taps + k]
                                let line = plane + (s + k) * outWidth
                                for x in 0..<outWidth { acc[x] &+= Int32(line[x]) &* wk }
                            }
                            let out = output + (ch * outHeight + y) * outWidth
                            for x in 0..<outWidth { out[x] = clip8(acc[x]) }
                        }
                    }
                }}}
            }
        }
    }

    @inline(__always)
    static func clip8(_ v: Int32) -> UInt8 {
        let s = v >> precisionBits
        return s < 0 ? 0 : s > 255 ? 255 : UInt8(truncatingIfNeeded: s)
    }
}
