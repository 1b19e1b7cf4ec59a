import Autodiff
import NN
import Tensors

/// The two terms of ADP's regulariser (Pang et al. 2019, "Improving Adversarial Robustness via
/// Promoting Ensemble Diversity"), for K members' logits z_k (N×D each) and labels y:
///
///     p_k = softmax(z_k),  p̄ = (1/K)·Σ_k p_k
///     H   = mean over the batch of −Σ_j p̄_j·log(p̄_j + 10⁻²⁰)                       (ensemble entropy)
///     m_k = p_k without column y, divided by its L2 norm        (non-maximal predictions, (D−1)-vectors)
///     M̃   = [m_1 … m_K]  ((D−1)×K),   LD = mean over the batch of log det(M̃ᵀM̃ + δ·I)
///
/// The ADP loss is Σ_k CE(z_k, y) − α·H − β·LD (both terms are *promoted*). The constants follow the
/// authors' code: log_offset = 10⁻²⁰ inside the entropy, det_offset δ = 10⁻⁶.
///
///     // K = 2, D = 3, y = 0, p_1 = (0.5, 0.3, 0.2), p_2 = (0.6, 0.1, 0.3):
///     // H = entropy(0.55, 0.2, 0.25) ≈ 0.99727; cos(m_1, m_2) = 0.09/√0.013 ≈ 0.78935,
///     // LD = log((1 + δ)² − 0.78935²) ≈ −0.97571
public func adpRegularizerTerms(memberLogits: [Variable], labels: [Int], determinantOffset: Float,
                                logOffset: Float = 1e-20) -> (entropy: Variable, logDeterminant: Variable) {
    precondition(!memberLogits.isEmpty, "ADP needs members")
    let n = memberLogits[0].shape[0], k = memberLogits.count
    let probabilities = memberLogits.map { softmax($0) }
    var total = probabilities[0]
    for p in probabilities.dropFirst() { total = total + p }
    let mean = total * (1 / Float(k))
    let entropy = sum(mean * log(mean + logOffset)) * (-1 / Float(n))
    let nonMaximal = probabilities.map { l2NormalizeRows(removingLabelColumn($0, labels: labels)) }
    let m = stackAlongAxis1(nonMaximal)                                   // N×K×(D−1)
    let gram = batchedMatmul(m, m, transposeB: true)                     // N×K×K = M̃ᵀM̃ per example
    let offset = Tensor(shape: [n, k, k]) { out in
        out.update(repeating: 0)
        for i in 0..<n { for j in 0..<k { out[(i * k + j) * k + j] = determinantOffset } }
    }
    let logDet = Autodiff.mean(logDeterminant(gram + offset))
    return (entropy, logDet)
}
