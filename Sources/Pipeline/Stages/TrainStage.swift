import Cluster
import Data
import Foundation
import NN
import Robustness
import Store
import Tensors

/// train: a data set → two checkpoint artifacts, `model` (after the last step) and `best` (the epoch
/// with the highest validation accuracy on a held-out slice of the training set, by the criterion
/// `Selection` gives: robust accuracy for a model trained against an attack, clean accuracy for one
/// trained without — no defense, Randomization, IGR, ADP).
///
/// Checkpoint layout (`ModelCheckpoint`: kind `checkpoint`, format 2; h5py reads it, PyTorch names):
///
/// | path | type | shape | meaning |
/// |---|---|---|---|
/// | `<param or buffer name>` | float32 (int64 for `num_batches_tracked`) | PyTorch's | weights and buffers |
/// | `optimizer/<name>.<state>` | float32 | as the parameter | optimiser state (`model` only) |
/// | `log/loss`, `log/accuracy` | float32 | steps | training loss and batch accuracy after each step (`model` only) |
/// | `validation/epoch` | int64 | epochs | epochs validated (0-based) |
/// | `validation/clean_accuracy` | float32 | epochs | accuracy on the held-out slice |
/// | `validation/robust_accuracy` | float32 | epochs | the same under the validation attack; only when one ran |
/// | `validation/fgsm_accuracy` | float32 | epochs | under FGSM (from x, step ε); only for fast training methods (fgsm, free) |
///
/// Root attributes besides the store's: `architecture` (ResNetConfiguration JSON), `defense`
/// (`Defense.parameters` as canonical JSON: the same encoding as this stage's key), `epoch` (the
/// epoch the weights are from, 0-based; -1 for "no validation, last"), `steps`, `selection` (`clean`
/// or `robust`: the validation accuracy that picks `best`; absent without validation),
/// `catastrophic_overfitting_epoch` (0-based; only when `CatastrophicOverfitting` flagged one).
/// Format 1 (before the one configuration codec) held the defense as camelCase JSON; it is still read.
///
/// Resuming: while it runs, the stage keeps `resume.h5` (weights, buffers, optimiser state, step and
/// logs) and `best.h5` in the key's work directory, written atomically at every epoch end and every
/// `checkpointSeconds` / `checkpointEverySteps`. A run killed at any point restarts from the last one
/// and — the trainer being step-exact — ends with the same weights as an uninterrupted run.
enum TrainStage {
    /// 2: `best` of a model trained without an attack is picked by clean accuracy (was: robust, which
    /// for such a model is a number no one trained for); no robust accuracy logged where no attack ran.
    static let version = 2

    /// The validation accuracy that picks the `best` checkpoint: what the model was trained for.
    enum Selection: String {
        case clean, robust
    }

    /// Robust accuracy for a model trained against an attack (when a validation attack runs), clean
    /// accuracy for one trained without (none, Randomization, IGR, ADP): an epoch-1 checkpoint of an
    /// undefended model with 35 % clean accuracy can be "more robust" than the last with 69 %.
    static func selection(_ model: ModelSpec) -> Selection {
        model.defense.isAdversarial && validationAttack(model).map({ $0.iterations > 0 }) == true ? .robust : .clean
    }

    /// The attack that measures robust validation accuracy, if any: the pipeline's `validation_attack`,
    /// else the training attack of a model trained with PGD, else (fast methods: fgsm, free) PGD-10 at
    /// the training ε, which is what catastrophic overfitting fools.
    static func validationAttack(_ model: ModelSpec) -> PGDConfiguration? {
        if let given = model.training.validationAttack { return given }
        guard let (attack, method) = model.defense.trainingAttack else { return nil }
        return method.isFast ? CatastrophicOverfitting.pgdAttack(epsilon: attack.epsilon) : attack
    }

    /// The FGSM that, beside PGD, watches a fast-trained model for catastrophic overfitting (nil: not fast).
    static func overfittingProbe(_ model: ModelSpec) -> PGDConfiguration? {
        guard let (attack, method) = model.defense.trainingAttack, method.isFast else { return nil }
        return CatastrophicOverfitting.fgsmAttack(epsilon: attack.epsilon)
    }

    /// The checkpoints the stage outputs, by role: `model` (after the last step) and `best`.
    static let outputs: Set<String> = ["model", "best"]

    /// The output role a pipeline file's `checkpoint:` choice names: `last` is the `model` output.
    static func output(checkpoint: String) -> String { checkpoint == "last" ? "model" : checkpoint }

    /// `train:<model>`; key: architecture, widths, defense.*, training.*, seed (`ModelSpec.trainParameters`).
    static func node(_ m: ModelSpec) -> StageNode {
        StageNode(name: "train:\(m.name)", stage: "train", version: version, parameters: m.trainParameters,
                  inputs: ["data": ("preprocess", "dataset")], outputs: outputs) { try run(m, $0) }
    }

    static func run(_ model: ModelSpec, _ run: StageRun) throws -> [String: ArtifactID] {
        let data = try run.cache.dataset(try run.input("data"), in: run.store)
        let classes = data.train.classNames.count
        var train = data.train.labeled
        var validation: LabeledImages?
        if model.training.validationExamples > 0 {
            guard model.training.validationExamples < train.count else {
                throw PipelineError(file: run.node, "validation_examples (\(model.training.validationExamples)) must be fewer than the \(train.count) training images")
            }
            let split = train.holdingOut(model.training.validationExamples, seed: model.seed)
            train = split.rest
            validation = split.heldOut
        }
        let configuration = try model.resnetConfiguration(channels: data.train.channels, classes: classes)
        let network = model.defense.makeModel(architecture: configuration, seed: model.seed)
        let trainer = Trainer(model: network, configuration: model.training.configuration(seed: model.seed), defense: model.defense)
        // Under MPI: data-parallel over the stage's ranks; rank 0 alone writes resume files and outputs.
        trainer.parallelism = run.parallelism
        let leader = run.isLeader
        let globalBatch = min(model.training.schedule.batchSize, train.count)
        guard globalBatch >= run.communicator.size else {
            throw PipelineError(file: run.node, "a batch of \(globalBatch) images cannot be split over \(run.communicator.size) ranks; "
                                + "use at most \(globalBatch) ranks (or --groups) for this training")
        }
        if run.communicator.isDistributed, let (_, method) = model.defense.trainingAttack, method.replays > 1 {
            throw PipelineError(file: run.node, "free adversarial training is not data-parallel yet (its perturbation δ is carried per rank): "
                                + "train this model on one process, or with --groups")
        }
        let validationAttack = Self.validationAttack(model).flatMap { $0.iterations > 0 ? $0 : nil }
        let probe = validationAttack == nil ? nil : Self.overfittingProbe(model)
        let selection = Self.selection(model)
        let architecture = canonicalJSON(configuration)

        let work = try run.workDirectory()
        let resumePath = "\(work)/resume.h5", bestPath = "\(work)/best.h5"
        var log = TrainingLog(selection: selection)
        if FileManager.default.fileExists(atPath: resumePath) {
            let attributes = try Checkpoint.load(into: network, optimizer: trainer.optimizer, from: resumePath)
            log = TrainingLog(attributes, selection: selection)
            trainer.step = log.step
            run.progress.line("\(run.node): resuming at step \(log.step) from \(resumePath)")
        }
        let perEpoch = trainer.stepsPerEpoch(examples: train.count)
        let total = perEpoch * model.training.epochs
        run.progress.line("\(run.node): \(model.architecture) (\(network.parameterCount) parameters), defense \(model.defense.displayName)"
                          + (model.defense.trainingAttack.map { " (\($0.method.describe($0.attack)))" } ?? "") + ", "
                          + "\(model.training.epochs) epochs × \(perEpoch) steps of \(min(model.training.schedule.batchSize, train.count)) images"
                          + (validation.map { ", \($0.count) held out for validation" } ?? "")
                          + (run.communicator.isDistributed
                             ? ", data-parallel over \(run.communicator.size) ranks (\(run.parallelism.synchronizedBatchNorm ? "synchronised" : "local") batch norm)" : ""))

        var lastSave = Date()
        func save() throws {
            guard leader else { return }
            try Checkpoint.save(network, optimizer: trainer.optimizer, architecture: architecture, metadata: log.attributes, to: resumePath)
            lastSave = Date()
        }
        var failure: Error?
        let options = run.checkpointing
        trainer.run(on: train, onStep: { p in
            log.record(step: p.step, terms: p.terms)
            run.progress.training(run.node, p)
            // Epoch ends save after validation (below); in between, save on the clock or the step count.
            guard p.step % perEpoch != 0, failure == nil else { return }
            let due = options.everySteps.map { p.step % $0 == 0 } ?? false
            if due || Date().timeIntervalSince(lastSave) >= options.seconds {
                do { try save() } catch { failure = error }
            }
        }, onEpochEnd: { epoch in
            if let validation {
                let (clean, robust) = validate(network, on: validation, attack: validationAttack, seed: model.seed &+ 0x7A11,
                                               communicator: run.communicator)
                let fgsm = probe.flatMap { probe in
                    validate(network, on: validation, attack: probe, seed: model.seed &+ 0x7A11, communicator: run.communicator).robust
                }
                log.validate(epoch: epoch, clean: clean, robust: robust, fgsm: fgsm)
                // No attack ran for a model trained without one: there is no robust number to print.
                run.progress.line(String(format: "%@: epoch %d/%d: validation accuracy %.1f%% clean", run.node, epoch + 1,
                                         model.training.epochs, 100 * clean)
                                  + (robust.map { String(format: ", %.1f%% robust", 100 * $0) } ?? "")
                                  + (fgsm.map { String(format: ", %.1f%% under FGSM", 100 * $0) } ?? "")
                                  + (log.bestEpoch == epoch ? " (best so far by \(selection.rawValue) accuracy)" : ""))
                if let warning = log.overfittingWarning(model: run.node), log.catastrophicEpoch == epoch {
                    run.progress.line(String(repeating: "⚠", count: 40))
                    run.progress.line(warning)
                    run.progress.line(String(repeating: "⚠", count: 40))
                }
                if log.bestEpoch == epoch && leader {
                    do { try Checkpoint.save(network, architecture: architecture, metadata: ["epoch": .int(Int64(epoch))], to: bestPath) }
                    catch { failure = error; return false }
                }
            }
            do { try save() } catch { failure = error; return false }
            return true
        })
        if let failure { throw failure }
        guard trainer.step == total else { throw PipelineError(file: run.node, "training stopped at step \(trainer.step) of \(total)") }
        if run.communicator.isDistributed {
            run.progress.line(String(format: "%@: %.1f s of the leader's training in all-reductions", run.node, trainer.communicationSeconds))
        }
        guard leader else { return [:] }   // every rank holds the same weights; the leader writes them

        let checkpoint = run.metadata(kind: "checkpoint", formatVersion: ModelCheckpoint.formatVersion)
        let last = try run.store.put(checkpoint) { w in
            try ModelCheckpoint.write(network, optimizer: trainer.optimizer, architecture: configuration, defense: model.defense, into: w)
            try log.write(into: w, withSteps: true)
            try w.setAttribute("epoch", .int(Int64(model.training.epochs - 1)))
            try w.setAttribute("steps", .int(Int64(total)))
            if validation != nil { try w.setAttribute("selection", .string(selection.rawValue)) }
            if let e = log.catastrophicEpoch { try w.setAttribute("catastrophic_overfitting_epoch", .int(Int64(e))) }
        }
        var best = last
        if validation != nil, FileManager.default.fileExists(atPath: bestPath) {
            let bestNetwork = model.defense.makeModel(architecture: configuration, seed: model.seed)
            try Checkpoint.load(into: bestNetwork, from: bestPath)
            best = try run.store.put(checkpoint) { w in
                try ModelCheckpoint.write(bestNetwork, optimizer: nil, architecture: configuration, defense: model.defense, into: w)
                try log.write(into: w, withSteps: false)
                try w.setAttribute("epoch", .int(Int64(log.bestEpoch)))
                try w.setAttribute("steps", .int(Int64(total)))
                try w.setAttribute("selection", .string(selection.rawValue))
                if let e = log.catastrophicEpoch { try w.setAttribute("catastrophic_overfitting_epoch", .int(Int64(e))) }
            }
            let index = log.epochs.firstIndex(of: Int64(log.bestEpoch)) ?? 0
            let value = selection == .robust ? log.robust[index] : log.clean[index]
            run.progress.line(String(format: "%@: best checkpoint: epoch %d of %d, picked by %@ validation accuracy (%.1f%%)",
                                     run.node, log.bestEpoch + 1, model.training.epochs, selection.rawValue, 100 * value))
        }
        return ["model": last, "best": best]
    }
}

/// Clean and robust (white-box PGD) accuracy on the held-out slice. Under MPI each rank validates its
/// contiguous share (`BatchSlice.share`; its attack seeded by (seed, rank)) and the counts are summed,
/// so validation costs each rank 1/N of it instead of all of it; the numbers then differ from one
/// process's by the attack's random starts, as an N-rank training differs anyway (N is in its key).
func validate(_ network: any Classifier, on validation: LabeledImages, attack: PGDConfiguration?, seed: UInt64,
              communicator: Communicator) -> (clean: Float, robust: Float?) {
    guard communicator.isDistributed else {
        let clean = evaluateAccuracy(network, on: validation)
        let robust = attack.map { attack in
            evaluatePGD(target: network, source: network, threatModel: .whiteBox, data: validation, attack: attack,
                        recordingAfter: [], seed: seed).evaluation.finalAccuracy
        }
        return (clean, robust)
    }
    let share = validation.slice(BatchSlice.share(of: validation.count, rank: communicator.rank, ranks: communicator.size).rows)
    var counts = [Double(classifiedCorrectly(network, on: share).filter { $0 }.count), 0]
    if let attack, share.count > 0 {
        let robust = evaluatePGD(target: network, source: network, threatModel: .whiteBox, data: share, attack: attack,
                                 recordingAfter: [], seed: seed &+ UInt64(communicator.rank)).evaluation
        counts[1] = Double(robust.perImage?.last?.reduce(0, +) ?? 0)
    }
    counts = communicator.allreduceSum(counts)
    let n = Float(max(validation.count, 1))
    return (Float(counts[0]) / n, attack.map { _ in Float(counts[1]) / n })
}

/// Loss and accuracy per step and validation per epoch, kept in the resume file's attributes.
struct TrainingLog {
    var step = 0
    var loss: [Double] = []
    var accuracy: [Double] = []
    var epochs: [Int64] = []
    var clean: [Double] = []
    /// Robust accuracy per epoch; empty when no validation attack runs.
    var robust: [Double] = []
    /// FGSM accuracy per epoch; only for fast training methods.
    var fgsm: [Double] = []
    var bestEpoch = -1
    /// The epoch (0-based) at which `CatastrophicOverfitting` flagged the run, if it did.
    var catastrophicEpoch: Int? {
        guard !fgsm.isEmpty, fgsm.count == robust.count else { return nil }
        return CatastrophicOverfitting.firstCheck(pgd: robust, fgsm: fgsm).map { Int(epochs[$0]) }
    }

    func overfittingWarning(model: String) -> String? {
        guard let e = catastrophicEpoch, let i = epochs.firstIndex(of: Int64(e)), i > 0 else { return nil }
        let b = CatastrophicOverfitting.reference(robust, before: i)
        return CatastrophicOverfitting.warning(model: model, epoch: e + 1, pgd: (robust[b], robust[i]), fgsm: (fgsm[b], fgsm[i]))
    }
    let selection: TrainStage.Selection

    init(selection: TrainStage.Selection) { self.selection = selection }

    init(_ a: [String: HDF5Attribute], selection: TrainStage.Selection) {
        self.selection = selection
        step = Int(a["step"]?.intValue ?? 0)
        if case .doubles(let v)? = a["log_loss"] { loss = Array(v.prefix(step)) }
        if case .doubles(let v)? = a["log_accuracy"] { accuracy = Array(v.prefix(step)) }
        if case .ints(let v)? = a["validation_epochs"] { epochs = v }
        if case .doubles(let v)? = a["validation_clean"] { clean = v }
        if case .doubles(let v)? = a["validation_robust"] { robust = v }
        if case .doubles(let v)? = a["validation_fgsm"] { fgsm = v }
        bestEpoch = Int(a["best_epoch"]?.intValue ?? -1)
    }

    var attributes: [String: HDF5Attribute] {
        ["step": .int(Int64(step)), "log_loss": .doubles(loss), "log_accuracy": .doubles(accuracy),
         "validation_epochs": .ints(epochs), "validation_clean": .doubles(clean), "validation_robust": .doubles(robust),
         "best_epoch": .int(Int64(bestEpoch))].merging(fgsm.isEmpty ? [:] : ["validation_fgsm": .doubles(fgsm)]) { $1 }
    }

    mutating func record(step: Int, terms: LossTerms) {
        self.step = step
        loss.append(Double(terms.total))
        accuracy.append(Double(terms.accuracy))
    }

    /// Records an epoch's validation; it becomes the best when its accuracy by `selection` beats
    /// every earlier epoch's (the first of equals wins).
    mutating func validate(epoch: Int, clean c: Float, robust r: Float?, fgsm f: Float? = nil) {
        if let f { fgsm.append(Double(f)) }
        let scores = selection == .robust ? robust : clean
        let bestSoFar = scores.max() ?? -1
        epochs.append(Int64(epoch)); clean.append(Double(c))
        if let r { robust.append(Double(r)) }
        let score = selection == .robust ? Double(r ?? -1) : Double(c)
        if score > bestSoFar { bestEpoch = epoch }
    }

    func write(into w: ArtifactWriter, withSteps: Bool) throws {
        if withSteps {
            try w.write("log/loss", float32: loss.map(Float.init), shape: [loss.count])
            try w.write("log/accuracy", float32: accuracy.map(Float.init), shape: [accuracy.count])
        }
        try w.write("validation/epoch", int64: epochs, shape: [epochs.count])
        try w.write("validation/clean_accuracy", float32: clean.map(Float.init), shape: [clean.count])
        if !robust.isEmpty { try w.write("validation/robust_accuracy", float32: robust.map(Float.init), shape: [robust.count]) }
        if !fgsm.isEmpty { try w.write("validation/fgsm_accuracy", float32: fgsm.map(Float.init), shape: [fgsm.count]) }
    }
}
