import Tensors

/// Nearest-neighbour resize of N×C×H×W to N×C×height×width, sampling source pixel
/// ⌊i·H/height⌋ (TensorFlow's `resize_images(…, NEAREST_NEIGHBOR)` without corner alignment, as
/// Xie et al.'s randomization layer uses). The map is linear, so the backward pass is exact:
/// each source pixel receives the sum of dy over the output pixels that sampled it.
public func resizeNearest(_ x: Variable, height: Int, width: Int) -> Variable {
    let (n, c, h, w) = x.value.nchw
    precondition(height > 0 && width > 0, "resize to \(height)×\(width)")
    let rowsIdx = (0..<height).map { min(($0 * h) / height, h - 1) }
    let colsIdx = (0..<width).map { min(($0 * w) / width, w - 1) }
    let y = x.value.withUnsafeBufferPointer { src in
        Tensor(shape: [n, c, height, width]) { out in
            for p in 0..<(n * c) {
                let s = p * h * w, o = p * height * width
                for i in 0..<height { for j in 0..<width { out[o + i * width + j] = src[s + rowsIdx[i] * w + colsIdx[j]] } }
            }
        }
    }
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        let dx = dy.withUnsafeBufferPointer { g in
            Tensor(shape: [n, c, h, w]) { out in
                out.update(repeating: 0)
                for p in 0..<(n * c) {
                    let s = p * h * w, o = p * height * width
                    for i in 0..<height { for j in 0..<width { out[s + rowsIdx[i] * w + colsIdx[j]] += g[o + i * width + j] } }
                }
            }
        }
        x.accumulateGradient(dx)
    }
}

/// Zero padding of N×C×H×W by `top`, `bottom`, `left`, `right` pixels.  dx is dy's interior.
public func pad2d(_ x: Variable, top: Int, bottom: Int, left: Int, right: Int, value: Float = 0) -> Variable {
    let (n, c, h, w) = x.value.nchw
    precondition(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "negative padding")
    let oh = h + top + bottom, ow = w + left + right
    let y = x.value.withUnsafeBufferPointer { src in
        Tensor(shape: [n, c, oh, ow]) { out in
            out.update(repeating: value)
            for p in 0..<(n * c) {
                for i in 0..<h {
                    (out.baseAddress! + p * oh * ow + (i + top) * ow + left).update(from: src.baseAddress! + p * h * w + i * w, count: w)
                }
            }
        }
    }
    return x.recordingTape.record(y, inputs: [x]) { [x = x.slot] dy in
        let dx = dy.withUnsafeBufferPointer { g in
            Tensor(shape: [n, c, h, w]) { out in
                for p in 0..<(n * c) {
                    for i in 0..<h {
                        (out.baseAddress! + p * h * w + i * w).update(from: g.baseAddress! + p * oh * ow + (i + top) * ow + left, count: w)
                    }
                }
            }
        }
        x.accumulateGradient(dx)
    }
}
