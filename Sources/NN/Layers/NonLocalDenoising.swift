import Autodiff
import Tensors

/// The feature-denoising block of Xie et al. 2018 ("Feature Denoising for Improving Adversarial
/// Robustness"), in its best variant: non-local means with embedded-Gaussian (softmax) weights,
/// then a 1×1 convolution + batch norm, added back to the input:
///
///     θ = conv_θ(x), φ = conv_φ(x)                  1×1, C → C/2 channels, N(0, 0.01²) init
///     f[i, j] = softmax_j( θ_iᵀ φ_j / √(C/2) )      over all positions i, j of the H×W map
///     y_i = Σ_j f[i, j]·x_j                         (no embedding of the values: g = x)
///     z = x + bn(conv(y))                           1×1 conv C → C, no bias; bn's γ starts at 0
///
/// so a freshly inserted block is the identity (the authors' zero-init BN), and a network with
/// blocks starts where the plain one does. Names follow PyTorch style under the block's name:
/// `denoise2.theta.weight`, `denoise2.phi.weight`, `denoise2.conv.weight`, `denoise2.bn.*`.
/// Cost: an N×HW×HW attention matrix per block (784² floats an example on a 28×28 map).
public final class NonLocalDenoising: Module {
    public let theta: Conv2d
    public let phi: Conv2d
    public let conv: Conv2d
    public let bn: BatchNorm2d
    public let channels: Int

    public init(name: String, channels: Int, rng: inout SeededRandom) {
        self.channels = channels
        let embed = max(channels / 2, 1)
        theta = Conv2d(name: join(name, "theta"), inChannels: channels, outChannels: embed, kernel: 1, rng: &rng)
        phi = Conv2d(name: join(name, "phi"), inChannels: channels, outChannels: embed, kernel: 1, rng: &rng)
        theta.weight.value = Tensor.normal(shape: theta.weight.value.shape, std: 0.01, using: &rng)
        phi.weight.value = Tensor.normal(shape: phi.weight.value.shape, std: 0.01, using: &rng)
        conv = Conv2d(name: join(name, "conv"), inChannels: channels, outChannels: channels, kernel: 1, rng: &rng)
        bn = BatchNorm2d(name: join(name, "bn"), channels: channels)
        bn.weight.value = Tensor(shape: [channels])
    }

    public var parameters: [Parameter] { theta.parameters + phi.parameters + conv.parameters + bn.parameters }
    public var buffers: [Buffer] { bn.buffers }

    public func callAsFunction(_ x: Variable, mode: Mode) -> Variable {
        x + bn.folding(conv, nonLocalMeans(x, theta: theta(x), phi: phi(x)), mode: mode)
    }
}

/// Non-local means with softmax weights (the core of `NonLocalDenoising`):
/// x: N×C×H×W, θ, φ: N×E×H×W → y: N×C×H×W with y[:, i] = Σ_j softmax_j(θ_i·φ_j / √E)·x[:, j].
public func nonLocalMeans(_ x: Variable, theta: Variable, phi: Variable) -> Variable {
    let (n, c, h, w) = x.value.nchw
    let e = theta.shape[1], hw = h * w
    let t = reshape(theta, [n, e, hw]), p = reshape(phi, [n, e, hw]), g = reshape(x, [n, c, hw])
    let scores = batchedMatmul(t, p, transposeA: true) * (1 / Float(e).squareRoot())     // N×HW×HW, [i, j]
    let weights = reshape(softmax(reshape(scores, [n * hw, hw])), [n, hw, hw])
    let y = batchedMatmul(g, weights, transposeB: true)                                   // N×C×HW: Σ_j x[c, j]·f[i, j]
    return reshape(y, [n, c, h, w])
}
