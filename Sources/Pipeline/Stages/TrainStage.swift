import Data
import Foundation
import NN
import Robustness
import Store
import Tensors

/// train: a data set → two checkpoint artifacts, `model` (after the last step) and `best` (the epoch
/// with the highest robust accuracy on a held-out validation slice of the training set).
///
/// Checkpoint layout (`ModelCheckpoint`: kind `checkpoint`, format 2; h5py reads it, PyTorch names):
///
/// | path | type | shape | meaning |
/// |---|---|---|---|
/// | `<param or buffer name>` | float32 (int64 for `num_batches_tracked`) | PyTorch's | weights and buffers |
/// | `optimizer/<name>.<state>` | float32 | as the parameter | optimiser state (`model` only) |
/// | `log/loss`, `log/accuracy` | float32 | steps | training loss and batch accuracy after each step (`model` only) |
/// | `validation/epoch` | int64 | epochs | epochs validated (0-based) |
/// | `validation/clean_accuracy`, `validation/robust_accuracy` | float32 | epochs | accuracy on the held-out slice |
///
/// Root attributes besides the store's: `architecture` (ResNetConfiguration JSON), `defense`
/// (`Defense.parameters` as canonical JSON: the same encoding as this stage's key), `epoch` (the
/// epoch the weights are from, 0-based; -1 for "no validation, last"), `steps`.
/// Format 1 (before the one configuration codec) held the defense as camelCase JSON; it is still read.
///
/// Resuming: while it runs, the stage keeps `resume.h5` (weights, buffers, optimiser state, step and
/// logs) and `best.h5` in the key's work directory, written atomically at every epoch end and every
/// `checkpointSeconds` / `checkpointEverySteps`. A run killed at any point restarts from the last one
/// and — the trainer being step-exact — ends with the same weights as an uninterrupted run.
enum TrainStage {
    static let version = 1

    /// `train:<model>`; key: architecture, widths, defense.*, training.*, seed (`ModelSpec.trainParameters`).
    static func node(_ m: ModelSpec) -> StageNode {
        StageNode(name: "train:\(m.name)", stage: "train", version: version, parameters: m.trainParameters,
                  inputs: ["data": ("preprocess", "dataset")]) { try run(m, $0) }
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
        let validationAttack = model.training.validationAttack ?? model.defense.adversarialTraining?.attack
        let architecture = canonicalJSON(configuration)

        let work = try run.workDirectory()
        let resumePath = "\(work)/resume.h5", bestPath = "\(work)/best.h5"
        var log = TrainingLog()
        if FileManager.default.fileExists(atPath: resumePath) {
            let attributes = try Checkpoint.load(into: network, optimizer: trainer.optimizer, from: resumePath)
            log = TrainingLog(attributes)
            trainer.step = log.step
            run.progress.line("\(run.node): resuming at step \(log.step) from \(resumePath)")
        }
        let perEpoch = trainer.stepsPerEpoch(examples: train.count)
        let total = perEpoch * model.training.epochs
        run.progress.line("\(run.node): \(model.architecture) (\(network.parameterCount) parameters), defense \(model.defense.displayName), "
                          + "\(model.training.epochs) epochs × \(perEpoch) steps of \(min(model.training.schedule.batchSize, train.count)) images"
                          + (validation.map { ", \($0.count) held out for validation" } ?? ""))

        var lastSave = Date()
        func save() throws {
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
                let clean = evaluateAccuracy(network, on: validation)
                var robust = clean
                if let attack = validationAttack, attack.iterations > 0 {
                    robust = evaluatePGD(target: network, source: network, threatModel: .whiteBox, data: validation, attack: attack,
                                         recordingAfter: [], seed: model.seed &+ 0x7A11).evaluation.finalAccuracy
                }
                log.validate(epoch: epoch, clean: clean, robust: robust)
                run.progress.line(String(format: "%@: epoch %d/%d: validation accuracy %.1f%% clean, %.1f%% robust", run.node, epoch + 1,
                                         model.training.epochs, 100 * clean, 100 * robust))
                if log.bestEpoch == epoch {
                    do { try Checkpoint.save(network, architecture: architecture, metadata: ["epoch": .int(Int64(epoch))], to: bestPath) }
                    catch { failure = error; return false }
                }
            }
            do { try save() } catch { failure = error; return false }
            return true
        })
        if let failure { throw failure }
        guard trainer.step == total else { throw PipelineError(file: run.node, "training stopped at step \(trainer.step) of \(total)") }

        let checkpoint = run.metadata(kind: "checkpoint", formatVersion: ModelCheckpoint.formatVersion)
        let last = try run.store.put(checkpoint) { w in
            try ModelCheckpoint.write(network, optimizer: trainer.optimizer, architecture: configuration, defense: model.defense, into: w)
            try log.write(into: w, withSteps: true)
            try w.setAttribute("epoch", .int(Int64(model.training.epochs - 1)))
            try w.setAttribute("steps", .int(Int64(total)))
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
            }
        }
        return ["model": last, "best": best]
    }
}

/// Loss and accuracy per step and validation per epoch, kept in the resume file's attributes.
struct TrainingLog {
    var step = 0
    var loss: [Double] = []
    var accuracy: [Double] = []
    var epochs: [Int64] = []
    var clean: [Double] = []
    var robust: [Double] = []
    var bestEpoch = -1

    init() {}

    init(_ a: [String: HDF5Attribute]) {
        step = Int(a["step"]?.intValue ?? 0)
        if case .doubles(let v)? = a["log_loss"] { loss = Array(v.prefix(step)) }
        if case .doubles(let v)? = a["log_accuracy"] { accuracy = Array(v.prefix(step)) }
        if case .ints(let v)? = a["validation_epochs"] { epochs = v }
        if case .doubles(let v)? = a["validation_clean"] { clean = v }
        if case .doubles(let v)? = a["validation_robust"] { robust = v }
        bestEpoch = Int(a["best_epoch"]?.intValue ?? -1)
    }

    var attributes: [String: HDF5Attribute] {
        ["step": .int(Int64(step)), "log_loss": .doubles(loss), "log_accuracy": .doubles(accuracy),
         "validation_epochs": .ints(epochs), "validation_clean": .doubles(clean), "validation_robust": .doubles(robust),
         "best_epoch": .int(Int64(bestEpoch))]
    }

    mutating func record(step: Int, terms: LossTerms) {
        self.step = step
        loss.append(Double(terms.total))
        accuracy.append(Double(terms.accuracy))
    }

    mutating func validate(epoch: Int, clean c: Float, robust r: Float) {
        let bestSoFar = robust.max() ?? -1
        epochs.append(Int64(epoch)); clean.append(Double(c)); robust.append(Double(r))
        if Double(r) > bestSoFar { bestEpoch = epoch }
    }

    func write(into w: ArtifactWriter, withSteps: Bool) throws {
        if withSteps {
            try w.write("log/loss", float32: loss.map(Float.init), shape: [loss.count])
            try w.write("log/accuracy", float32: accuracy.map(Float.init), shape: [accuracy.count])
        }
        try w.write("validation/epoch", int64: epochs, shape: [epochs.count])
        try w.write("validation/clean_accuracy", float32: clean.map(Float.init), shape: [clean.count])
        try w.write("validation/robust_accuracy", float32: robust.map(Float.init), shape: [robust.count])
    }
}
