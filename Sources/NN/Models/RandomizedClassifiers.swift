import Foundation
import Autodiff
import Tensors

/// A classifier whose forward pass draws random numbers from a generator it owns. Reseeding it makes
/// the next draws reproducible: the same seed gives the same outputs, different seeds different ones.
/// Attacks on such models need expectation over transformation (`PGDConfiguration.gradientSamples`)
/// and their accuracy is a mean over draws (`evaluateRandomizedAccuracy`).
public protocol RandomizedClassifier: Classifier {
    func reseed(_ seed: UInt64)
}

/// The noise of a noise-injection defense, in pixel units of [0, 1] images.
public enum NoiseDistribution: String, Codable, Hashable, Sendable, CaseIterable {
    /// N(0, σ²), σ = scale.
    case gaussian
    /// Laplace(0, b), b = scale (standard deviation √2·b).
    case laplace
    /// Uniform on [−scale, scale].
    case uniform
}

/// Input noise injection (Araujo et al. 2019's randomized adversarial training, after Pinot et al.):
/// the wrapped classifier sees x + η, η drawn afresh on every forward pass, in training and at
/// inference alike. The noisy input is not clipped to [0, 1]. Adds no parameters: its checkpoint is
/// the base model's, names unchanged.
public final class NoiseInjection: RandomizedClassifier {
    public let base: any Classifier
    public let distribution: NoiseDistribution
    public let scale: Float
    public private(set) var rng: SeededRandom

    public init(base: any Classifier, distribution: NoiseDistribution, scale: Float, seed: UInt64) {
        precondition(scale >= 0, "noise scale must be non-negative")
        self.base = base; self.distribution = distribution; self.scale = scale
        rng = SeededRandom(seed: seed)
    }

    public func reseed(_ seed: UInt64) { rng = SeededRandom(seed: seed) }
    public var parameters: [Parameter] { base.parameters }
    public var buffers: [Buffer] { base.buffers }

    /// One draw of η with the shape of `shape`.
    public func drawNoise(shape: [Int]) -> Tensor {
        switch distribution {
        case .gaussian: return Tensor.normal(shape: shape, std: scale, using: &rng)
        case .uniform: return Tensor.uniform(shape: shape, in: -scale...scale, using: &rng)
        case .laplace:
            // Inverse CDF: u ∈ (−½, ½), η = −b·sign(u)·ln(1 − 2|u|).
            let b = scale
            return Tensor(shape: shape) { out in
                for i in 0..<out.count {
                    let u: Float = min(rng.nextUnitFloat(), 1 - 1e-7) - 0.5
                    let magnitude: Float = -b * Foundation.log(max(1 - 2 * abs(u), 1e-12))
                    out[i] = u < 0 ? -magnitude : magnitude
                }
            }
        }
    }

    public func callAsFunction(_ x: Variable, mode: Mode) -> ClassifierOutput {
        let noise = x.recordingTape.constant(drawNoise(shape: x.shape))
        return base(x + noise, mode: mode)
    }
}

/// Xie et al. 2017's randomization layers ("Mitigating adversarial effects through randomization"):
/// at inference, resize the batch to a random side r (nearest neighbour) and zero-pad it at a random
/// offset to a fixed side S, then classify. The original resizes 299 → r ∈ [299, 331) and pads to
/// 331×331; here the sizes scale with the input: S = round(H·331/299) and r ∈ [H, S) — for 28×28
/// Fashion-MNIST, r ∈ {28, 29, 30} and S = 31. As in the original, one r and one offset per batch.
/// Training mode passes the input through unchanged (the layers are an inference-time defense; the
/// base network is trained as usual), unless `activeInTraining`.
/// The ops are differentiable (nearest resize, pad), so EOT attacks get gradients through them.
public final class RandomResizePadding: RandomizedClassifier {
    public let base: any Classifier
    /// S/H: the padded side over the input side (331/299 in the original).
    public let sizeRatio: Float
    public let activeInTraining: Bool
    public private(set) var rng: SeededRandom

    public init(base: any Classifier, sizeRatio: Float = 331.0 / 299.0, activeInTraining: Bool = false, seed: UInt64) {
        precondition(sizeRatio >= 1, "the padded size must not be smaller than the input")
        self.base = base; self.sizeRatio = sizeRatio; self.activeInTraining = activeInTraining
        rng = SeededRandom(seed: seed)
    }

    public func reseed(_ seed: UInt64) { rng = SeededRandom(seed: seed) }
    public var parameters: [Parameter] { base.parameters }
    public var buffers: [Buffer] { base.buffers }

    /// The padded side S for an input side.
    public func paddedSide(for side: Int) -> Int { max(side, Int((Float(side) * sizeRatio).rounded())) }

    /// Resize + pad with explicit draws (r, top, left), for tests and for callers that draw themselves.
    public static func transform(_ x: Variable, resizedTo r: Int, paddedTo s: Int, top: Int, left: Int) -> Variable {
        let resized = r == x.shape[2] && r == x.shape[3] ? x : resizeNearest(x, height: r, width: r)
        return pad2d(resized, top: top, bottom: s - r - top, left: left, right: s - r - left)
    }

    public func callAsFunction(_ x: Variable, mode: Mode) -> ClassifierOutput {
        guard mode == .evaluation || activeInTraining else { return base(x, mode: mode) }
        precondition(x.shape[2] == x.shape[3], "RandomResizePadding expects square images, got \(x.shape)")
        let side = x.shape[2], s = paddedSide(for: side)
        let r = s > side ? side + Int(rng.next() % UInt64(s - side)) : side
        let top = Int(rng.next() % UInt64(s - r + 1)), left = Int(rng.next() % UInt64(s - r + 1))
        return base(RandomResizePadding.transform(x, resizedTo: r, paddedTo: s, top: top, left: left), mode: mode)
    }
}
