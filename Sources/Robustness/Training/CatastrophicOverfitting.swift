/// Catastrophic overfitting of fast adversarial training (Wong, Rice & Kolter 2020, §5): within an
/// epoch or two, a model trained with FGSM becomes robust to FGSM and loses its robustness to PGD
/// (its loss surface becomes highly curved, so one linear step no longer finds x′). Wong et al. detect
/// it by PGD accuracy on a held-out batch after each epoch, stopping when it falls by more than 0.2
/// from the previous check (`--early-stop` of their `fast_adversarial` code); the collapse comes with
/// FGSM accuracy going up (their Figure 1). atalp flags check e when, with b the earlier check of
/// highest PGD accuracy,
///
///     pgd[b] − pgd[e] > max(floor, min(drop, pgd[b] / 2))   and   fgsm[e] > fgsm[b]
///
/// accuracies in [0, 1] on the validation images: PGD accuracy collapsed from its best while FGSM
/// accuracy rose above its value there. `drop` = 0.2 is Wong et al.'s threshold (CIFAR-10, where PGD
/// accuracy is ~45 % before the collapse); on short runs whose PGD accuracy never got that high, a
/// fall to half the best counts too; `floor` = 0.05 keeps sampling noise on a few hundred images
/// from counting as a collapse. Measured on a small run (`FastTrainingTests`, FGSM from x at ε = 0.2):
/// PGD 18 % → 7 % while FGSM 28 % → 31 %.
public enum CatastrophicOverfitting {
    public enum Defaults {
        /// The fall of PGD accuracy (absolute, in [0, 1]) that is a collapse at any accuracy (Wong et al.: 0.2).
        public static let drop = 0.2
        /// The smallest fall that counts, whatever the best accuracy (in [0, 1]).
        public static let floor = 0.05
    }

    /// The first check (0-based index into `pgd` and `fgsm`, one per epoch) at which catastrophic
    /// overfitting shows, or nil. `pgd` and `fgsm` are validation accuracies in [0, 1], oldest first.
    public static func firstCheck(pgd: [Double], fgsm: [Double], drop: Double = Defaults.drop, floor: Double = Defaults.floor) -> Int? {
        precondition(pgd.count == fgsm.count, "\(pgd.count) PGD and \(fgsm.count) FGSM accuracies")
        guard pgd.count >= 2 else { return nil }
        return (1..<pgd.count).first { e in
            let b = reference(pgd, before: e)
            // A drop exactly at the threshold (0.8 − 0.6 computes as 0.20000000000000007) is not above it.
            return pgd[b] - pgd[e] > max(floor, min(drop, pgd[b] / 2)) + 1e-9 && fgsm[e] > fgsm[b]
        }
    }

    /// The check before `e` of highest PGD accuracy (the first of equals): what the collapse is measured from.
    public static func reference(_ pgd: [Double], before e: Int) -> Int {
        (0..<e).max { pgd[$0] < pgd[$1] || (pgd[$0] == pgd[$1] && $0 > $1) }!
    }

    /// The warning a training log and a report print, loudly: "CATASTROPHIC OVERFITTING at epoch 3 …".
    /// `epoch` is 1-based as logs count epochs; `before`: at the reference check, `after`: at the flagged one.
    public static func warning(model: String, epoch: Int, pgd: (before: Double, after: Double), fgsm: (before: Double, after: Double)) -> String {
        "⚠ CATASTROPHIC OVERFITTING: \(model) at epoch \(epoch): PGD validation accuracy fell from its best \(percent(pgd.before)) to "
            + "\(percent(pgd.after)) while FGSM accuracy rose from \(percent(fgsm.before)) to \(percent(fgsm.after)) "
            + "(Wong et al. 2020: use a random start, a step ≤ 1.25·ε, or PGD training; the best checkpoint is from before the collapse)"
    }

    /// The attack that exposes the gradient masking: FGSM from x itself, one step of ε.
    public static func fgsmAttack(epsilon: Float) -> PGDConfiguration {
        PGDConfiguration(epsilon: epsilon, stepSize: epsilon, iterations: 1, randomStart: false)
    }

    /// The PGD attack that validates a fast-trained model when none is given: PGD-10 at the training ε,
    /// the step by the one rule, from a random start.
    public static func pgdAttack(epsilon: Float) -> PGDConfiguration {
        PGDConfiguration(epsilon: epsilon, stepSize: nil, iterations: PGDConfiguration.Defaults.iterations)
    }

    private static func percent(_ v: Double) -> String {
        let p = (v * 1000).rounded() / 10
        return "\(p)%"
    }
}
