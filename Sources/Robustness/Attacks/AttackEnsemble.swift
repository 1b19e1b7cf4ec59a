import Autodiff
import NN
import Tensors

/// A sequence of attacks in the manner of AutoAttack (Croce & Hein 2020): each attack runs only on the
/// examples that every attack before it left correctly classified, so the robust accuracy after the last
/// attack is the per-example worst case over all of them.
///
/// The standard ensemble (`AttackEnsembleConfiguration.standard`) is AutoAttack's "standard" version
/// without FAB-T: APGD-CE (100 iterations, 1 restart), APGD-T (targeted DLR, 100 iterations, the top-9
/// other classes — all of them when fewer), Square (5000 queries, p_init = 0.8). FAB-T is left out:
/// in AutoAttack's own reports it very rarely breaks a point that APGD-T did not, and it is the most
/// complex of the four; an ensemble without it is at worst very slightly weaker.
///
/// An attack whose loss needs more classes than the model has (APGD-DLR: 3, APGD-T: 4 — two-class data
/// sets such as Dogs-vs-Cats) is skipped, and its stage says why (`Stage.skipped`).
///
///     let config = AttackEnsembleConfiguration.standard(epsilon: 0.1, seed: 0)
///     let r = AttackEnsemble.run(model, on: testSet, configuration: config)
///     r.stages.map { "\($0.name): \($0.robustAccuracy)" }   // cumulative, after each attack
///     r.robustAccuracy                                     // worst case over the ensemble
public struct AttackEnsembleConfiguration: Codable, Hashable, Sendable {
    /// One attack of the sequence; ε and the seed come from the ensemble.
    public enum Attack: Codable, Hashable, Sendable {
        /// APGD on cross-entropy.
        case apgdCE(iterations: Int, restarts: Int)
        /// APGD on the untargeted DLR loss (AutoAttack's "rand" and "plus" versions use it).
        case apgdDLR(iterations: Int, restarts: Int)
        /// APGD on the targeted DLR loss over the top-`targets` other classes (capped at classes − 1).
        case apgdTargeted(iterations: Int, restarts: Int, targets: Int)
        /// L∞ Square attack with a per-example query budget.
        case square(queries: Int, pInit: Float)

        /// The name the reports use: "APGD-CE", "APGD-DLR", "APGD-T", "Square".
        public var name: String {
            switch self {
            case .apgdCE: "APGD-CE"
            case .apgdDLR: "APGD-DLR"
            case .apgdTargeted: "APGD-T"
            case .square: "Square"
            }
        }

        /// Whether the attack follows input gradients (and so can be fooled by gradient masking).
        public var usesGradients: Bool {
            if case .square = self { return false }
            return true
        }

        /// The fewest classes the attack's loss is defined for (DLR: 3, targeted DLR: 4), if any.
        public var minimumClasses: Int? {
            switch self {
            case .apgdDLR: 3
            case .apgdTargeted: 4
            case .apgdCE, .square: nil
            }
        }
    }

    /// L∞ radius in pixel units ([0, 1] scale), shared by every attack.
    public var epsilon: Float
    /// The attacks, in the order they run.
    public var attacks: [Attack]
    /// Examples per attacked batch (the still-robust examples are packed into full batches).
    public var batchSize: Int
    /// Seed of every random draw; attack k draws from `SeededRandom.derived(seed:stream: k)`.
    public var seed: UInt64
    /// Input gradients averaged per step by the APGD attacks (expectation over transformation hook).
    public var gradientSamples: Int

    public init(epsilon: Float, attacks: [Attack], batchSize: Int = 256, seed: UInt64 = 0, gradientSamples: Int = 1) {
        precondition(epsilon >= 0 && batchSize >= 1 && gradientSamples >= 1, "invalid ensemble configuration")
        self.epsilon = epsilon; self.attacks = attacks; self.batchSize = batchSize; self.seed = seed
        self.gradientSamples = gradientSamples
    }

    /// AutoAttack's standard ensemble without FAB-T: APGD-CE, APGD-T (top-9), Square.
    public static func standard(epsilon: Float, seed: UInt64 = 0, iterations: Int = 100, targets: Int = 9,
                                squareQueries: Int = 5000, batchSize: Int = 256) -> AttackEnsembleConfiguration {
        AttackEnsembleConfiguration(epsilon: epsilon, attacks: [
            .apgdCE(iterations: iterations, restarts: 1),
            .apgdTargeted(iterations: iterations, restarts: 1, targets: targets),
            .square(queries: squareQueries, pInit: 0.8),
        ], batchSize: batchSize, seed: seed)
    }
}

/// What an ensemble run found on a data set.
public struct EnsembleResult: Sendable {
    /// One attack's share of the run.
    public struct Stage: Codable, Hashable, Sendable {
        public var name: String
        public var usesGradients: Bool
        /// Robust accuracy after this attack and every one before it (cumulative, as AutoAttack reports).
        public var robustAccuracy: Float
        /// Examples this attack broke that every earlier attack had left standing.
        public var broken: Int
        /// Examples it attacked (those still robust when it started).
        public var attacked: Int
        /// Why the attack did not run, when it did not (the DLR losses need 3 or 4 classes).
        public var skipped: String?

        public init(name: String, usesGradients: Bool, robustAccuracy: Float, broken: Int = 0, attacked: Int = 0, skipped: String? = nil) {
            self.name = name; self.usesGradients = usesGradients; self.robustAccuracy = robustAccuracy
            self.broken = broken; self.attacked = attacked; self.skipped = skipped
        }
    }

    /// What happened to one example.
    public enum Fate: Hashable, Sendable {
        /// Misclassified without perturbation.
        case misclassified
        /// Broken by the attack at this index of `stages`.
        case broken(stage: Int)
        /// Resisted every attack.
        case robust
    }

    public var count: Int
    public var cleanAccuracy: Float
    public var stages: [Stage]
    /// Per example.
    public var fates: [Fate]
    /// Per example: the point that fooled the model, or x itself (robust or misclassified examples).
    public var adversarial: Tensor

    /// Worst-case robust accuracy over the ensemble (the last stage's, or the clean accuracy when no
    /// attack ran).
    public var robustAccuracy: Float { stages.last?.robustAccuracy ?? cleanAccuracy }
    /// Per example, whether it resisted every attack.
    public var robust: [Bool] { fates.map { $0 == .robust } }
}

/// Progress of an ensemble run, for progress bars: `done` of `total` examples of stage `stage`.
public struct EnsembleProgress: Sendable {
    public var stage: Int
    public var name: String
    public var done: Int
    public var total: Int
}

public enum AttackEnsemble {
    /// Runs the attacks of `configuration` in sequence over `data`, each on the examples still robust,
    /// in batches. The model runs in evaluation mode; gradient attacks compute input gradients only.
    public static func run(_ model: any Classifier, on data: LabeledImages, configuration c: AttackEnsembleConfiguration,
                           progress: ((EnsembleProgress) -> Void)? = nil) -> EnsembleResult {
        let n = data.count
        var fates = [EnsembleResult.Fate](repeating: .robust, count: n)
        var adversarial = data.images

        var start = 0, classes = 0
        while start < n {
            let end = min(start + c.batchSize, n)
            let logits = evaluationLogits(model, data.images.rows(start..<end))
            classes = logits.shape[1]
            for (r, p) in logits.argmaxPerRow().enumerated() where p != data.labels[start + r] { fates[start + r] = .misclassified }
            start = end
        }
        let cleanCorrect = fates.filter { $0 == .robust }.count
        let accuracy = { (robust: Int) in Float(robust) / Float(max(n, 1)) }

        var stages: [EnsembleResult.Stage] = []
        var robustCount = cleanCorrect
        for (s, attack) in c.attacks.enumerated() {
            var rng = SeededRandom.derived(seed: c.seed, stream: UInt64(s))
            let candidates = (0..<n).filter { fates[$0] == .robust }
            if let needed = attack.minimumClasses, classes < needed {
                stages.append(EnsembleResult.Stage(name: attack.name, usesGradients: attack.usesGradients, robustAccuracy: accuracy(robustCount),
                                                   broken: 0, attacked: 0,
                                                   skipped: "\(attack.name) needs at least \(needed) classes, the model has \(classes)"))
                continue
            }
            var brokenHere = 0
            var offset = 0
            progress?(EnsembleProgress(stage: s, name: attack.name, done: 0, total: candidates.count))
            while offset < candidates.count {
                let batch = Array(candidates[offset..<min(offset + c.batchSize, candidates.count)])
                let x = data.images.gatherRows(batch), y = batch.map { data.labels[$0] }
                let result = run(attack, model: model, images: x, labels: y, configuration: c, rng: &rng)
                for (r, i) in batch.enumerated() where !result.robust[r] {
                    fates[i] = .broken(stage: s)
                    adversarial.overwriteRow(i, from: result.adversarial, row: r)
                    brokenHere += 1
                }
                offset += batch.count
                progress?(EnsembleProgress(stage: s, name: attack.name, done: offset, total: candidates.count))
            }
            robustCount -= brokenHere
            stages.append(EnsembleResult.Stage(name: attack.name, usesGradients: attack.usesGradients,
                                               robustAccuracy: accuracy(robustCount), broken: brokenHere, attacked: candidates.count,
                                               skipped: nil))
        }
        return EnsembleResult(count: n, cleanAccuracy: accuracy(cleanCorrect), stages: stages, fates: fates, adversarial: adversarial)
    }

    /// The whole ensemble on one batch, for callers that work batch by batch (a pipeline's per-batch
    /// generator): every attack in turn on the examples still robust, all drawing from `rng`.
    /// `robustAfter[k]` is robustness after the first k attacks (k = 0: clean), for k = 0…attacks.count;
    /// `adversarial` holds the fooling point of broken examples and x for the others. Attacks whose loss
    /// the model has too few classes for are skipped (see `Attack.minimumClasses`).
    public static func attack(_ model: any Classifier, images x: Tensor, labels: [Int], configuration c: AttackEnsembleConfiguration,
                              rng: inout SeededRandom) -> AttackResult {
        let n = x.shape[0]
        precondition(labels.count == n, "\(labels.count) labels for a batch of \(n)")
        let logits = evaluationLogits(model, x)
        var robust = zip(logits.argmaxPerRow(), labels).map { $0 == $1 }
        var adversarial = x
        var robustAfter: [Int: [Bool]] = [0: robust]
        for (s, attack) in c.attacks.enumerated() {
            let subset = (0..<n).filter { robust[$0] }
            let runnable = attack.minimumClasses.map { logits.shape[1] >= $0 } ?? true
            if !subset.isEmpty && runnable {
                let r = run(attack, model: model, images: x.gatherRows(subset), labels: subset.map { labels[$0] }, configuration: c, rng: &rng)
                for (k, i) in subset.enumerated() where !r.robust[k] {
                    robust[i] = false
                    adversarial.overwriteRow(i, from: r.adversarial, row: k)
                }
            }
            robustAfter[s + 1] = robust
        }
        return AttackResult(adversarial: adversarial, robustAfter: robustAfter, robust: robust)
    }

    /// One attack of the ensemble on one batch.
    public static func run(_ attack: AttackEnsembleConfiguration.Attack, model: any Classifier, images x: Tensor, labels: [Int],
                           configuration c: AttackEnsembleConfiguration, rng: inout SeededRandom) -> AttackResult {
        switch attack {
        case .apgdCE(let iterations, let restarts):
            APGD.attack(model, images: x, labels: labels, configuration: APGDConfiguration(
                epsilon: c.epsilon, iterations: iterations, restarts: restarts, loss: .crossEntropy, gradientSamples: c.gradientSamples), rng: &rng)
        case .apgdDLR(let iterations, let restarts):
            APGD.attack(model, images: x, labels: labels, configuration: APGDConfiguration(
                epsilon: c.epsilon, iterations: iterations, restarts: restarts, loss: .dlr, gradientSamples: c.gradientSamples), rng: &rng)
        case .apgdTargeted(let iterations, let restarts, let targets):
            APGD.attack(model, images: x, labels: labels, configuration: APGDConfiguration(
                epsilon: c.epsilon, iterations: iterations, restarts: restarts, loss: .targetedDLR(targets: targets),
                gradientSamples: c.gradientSamples), rng: &rng)
        case .square(let queries, let pInit):
            SquareAttack.attack(model, images: x, labels: labels,
                                configuration: SquareAttackConfiguration(epsilon: c.epsilon, queries: queries, pInit: pInit), rng: &rng)
        }
    }
}
