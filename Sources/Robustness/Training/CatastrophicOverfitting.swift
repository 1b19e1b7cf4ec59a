/// Catastrophic overfitting of fast adversarial training (Wong, Rice & Kolter 2020, §5): within an
/// epoch or two, a model trained with FGSM becomes robust to FGSM and loses its robustness to PGD
/// (its loss surface becomes highly curved, so one linear step no longer finds x′). Wong et al. detect
/// it by PGD accuracy on a held-out batch after each epoch, stopping when it falls by more than 0.2
/// from the previous check (`--early-stop` of their `fast_adversarial` code); the collapse comes with
/// FGSM accuracy going up (their Figure 1). atalp flags epoch e when both hold:
///
///     pgd[e] < pgd[e − 1] − drop   and   fgsm[e] > fgsm[e − 1]
///
/// with accuracies in [0, 1] on the validation images, `drop` = 0.2 (theirs).
public enum CatastrophicOverfitting {
    public enum Defaults {
        /// The fall of PGD accuracy (absolute, in [0, 1]) between consecutive checks (Wong et al.: 0.2).
        public static let drop = 0.2
    }

    /// The first check (0-based index into `pgd` and `fgsm`, one per epoch) at which catastrophic
    /// overfitting shows, or nil. `pgd` and `fgsm` are validation accuracies in [0, 1], oldest first.
    public static func firstCheck(pgd: [Double], fgsm: [Double], drop: Double = Defaults.drop) -> Int? {
        precondition(pgd.count == fgsm.count, "\(pgd.count) PGD and \(fgsm.count) FGSM accuracies")
        guard pgd.count >= 2 else { return nil }
        return (1..<pgd.count).first { pgd[$0] < pgd[$0 - 1] - drop && fgsm[$0] > fgsm[$0 - 1] }
    }

    /// The warning a training log and a report print, loudly: "CATASTROPHIC OVERFITTING at epoch 3 …".
    /// `epoch` is 1-based as logs count epochs; accuracies as above.
    public static func warning(model: String, epoch: Int, pgd: (before: Double, after: Double), fgsm: (before: Double, after: Double)) -> String {
        "⚠ CATASTROPHIC OVERFITTING: \(model) at epoch \(epoch): PGD validation accuracy fell from \(percent(pgd.before)) to "
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
