import NN
import Tensors

extension Defense {
    /// x′ for one training batch by the defense's training attack (methods `pgd` and `fgsm`): PGD on
    /// the cross-entropy for PAT…AT+ALP, RAT, FD and MART (MART from its Gaussian start), ascent on the
    /// KL for TRADES. nil for kinds that train on clean images. Free training makes x′ in `Trainer`
    /// (δ carried from the previous replay) and never calls this. With `slice` (data-parallel ranks),
    /// PGD and FGSM-RS draw their random start for the whole global batch and keep the slice's rows, as
    /// one process would; TRADES's and MART's Gaussian starts are drawn for the rank's rows only.
    public func trainingExamples(model: any Classifier, images: Tensor, labels: [Int], rng: inout SeededRandom,
                                 slice: BatchSlice? = nil) -> Tensor? {
        guard let (attack, _) = trainingAttack else { return nil }
        switch self {
        case .trades(let t): return t.perturb(model, images: images, rng: &rng)
        case .mart(let m): return m.perturb(model, images: images, labels: labels, rng: &rng)
        default: return PGD.perturb(model, images: images, labels: labels, configuration: attack, rng: &rng, slice: slice)
        }
    }
}
