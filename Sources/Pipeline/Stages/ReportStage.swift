import Analysis
import Foundation
import Robustness
import Store

/// report: every evaluation → the report's files, kept in the store as one artifact (kind `report`:
/// one uint8 dataset per file under `files/`: text as UTF-8, figures as PNG/SVG bytes) and written out to the report directory.
enum ReportStage {
    /// 2: the activation analysis (Table 2, Figures 4 and 6) under `analysis/`; files are bytes.
    /// 3: the verdict sets the strongest PGD against the ensemble's evaluated accuracy.
    /// 4: intervals on every accuracy, paired comparisons with a reference defense, bands in Figure 3.
    /// 5: several training seeds per row (mean, spread, seeds × images bootstrap); table1-summary.csv.
    static let version = 5

    /// `report`: every evaluation (inputs `<model>/<attack>`) and analysis output (`analysis/…`); key:
    /// title, rows, notes, reference.
    static func node(_ p: PipelineDefinition, evaluations: [(model: ModelSpec, attack: AttackSpec, node: String)],
                     analyses: [String: (node: String, output: String)]) -> StageNode {
        var inputs = analyses
        for e in evaluations { inputs["\(e.model.name)/\(e.attack.name)"] = (e.node, "evaluation") }
        // Fast-trained models' checkpoints, for their catastrophic-overfitting verdicts (no other model's: keys stay).
        for m in p.trainedModels where m.defense.trainingAttack?.method.isFast == true { inputs["training/\(m.name)"] = ("train:\(m.name)", "model") }
        let rows: [ParameterValue] = evaluations.map {
            ["model": .string($0.model.name), "row": .string($0.model.row), "seed": .int(Int64($0.model.seed)),
             "label": .string($0.model.label), "defense": .string($0.model.defense.kind.rawValue), "attack": .string($0.attack.name)]
        }
        let title = p.report.title, name = p.name
        let notes = ["Pipeline \(p.name) (\(p.file)); data: \(p.data.layout.rawValue)"
                     + (p.data.trainExamples.map { ", first \($0) training images" } ?? "")
                     + (p.data.testExamples.map { ", first \($0) test images" } ?? "")]
            + p.trainedModels.map { m in
                "\(m.name): \(m.architecture), defense \(m.defense.kind.rawValue)"
                    + (m.defense.trainingAttack.flatMap { $0.method.isFast ? " trained with \($0.method.describe($0.attack))" : nil } ?? "")
                    + ", \(m.training.epochs) epochs, seed \(m.seed)"
                    + (m.training.validationExamples > 0
                       ? "; best checkpoint by \(TrainStage.selection(m).rawValue) validation accuracy"
                       : "; no validation, so the best checkpoint is the last")
            }
            + p.attacks.map { "attack \($0.name) uses each model's \($0.checkpoint) checkpoint" }
        let order = evaluations.map { (model: $0.model, attack: $0.attack.name) }
        return StageNode(name: "report", stage: "report", version: version,
                         parameters: ["title": .string(title), "rows": .array(rows), "notes": .array(notes.map { .string($0) }),
                                      "reference": p.report.reference.map { .string($0) } ?? .null],
                         inputs: inputs, outputs: ["report"]) {
            try run(title: title, pipeline: name, notes: notes, reference: p.report.reference, rows: order, $0)
        }
    }

    static func run(title: String, pipeline: String, notes: [String], reference: String?, rows: [(model: ModelSpec, attack: String)],
                    _ run: StageRun) throws -> [String: ArtifactID] {
        // One report row per (row, attack), holding every seed's evaluations in seed order.
        var reportRows: [Report.Row] = []
        for row in rows {
            let (evaluations, checks, stages) = try EvaluateStage.read(try run.input("\(row.model.name)/\(row.attack)"), in: run.store)
            if let i = reportRows.firstIndex(where: { $0.model == row.model.row && $0.attack == row.attack }) {
                reportRows[i].seeds.append(row.model.seed)
                reportRows[i].replicates.append(evaluations)
                reportRows[i].checks += checks
            } else {
                reportRows.append(Report.Row(model: row.model.row, label: row.model.label, defense: row.model.defense.kind.rawValue,
                                             attack: row.attack, evaluations: evaluations, checks: checks, ensembleStages: stages,
                                             seeds: [row.model.seed]))
            }
        }
        let analysis = try self.analysis(run)
        var report = Report(title: title, pipeline: pipeline, rows: reportRows, notes: notes)
        report.trainingWarnings = try overfittingWarnings(run)
        report.reference = reference
        report.analysis = analysis.map { Report.AnalysisSection(markdown: $0.markdown, keyRegionTable: $0.table) }
        var files = report.files().mapValues { Array($0.utf8) }
        for (name, bytes) in analysis?.files ?? [:] { files["analysis/" + name] = bytes }
        let id = try run.store.put(run.metadata(kind: "report")) { w in
            try w.createGroup("files")
            for (name, bytes) in files.sorted(by: { $0.key < $1.key }) {
                try w.write("files/\(name)", uint8: bytes, shape: [bytes.count])
            }
        }
        return ["report": id]
    }

    /// The catastrophic-overfitting warnings of the fast-trained models (inputs `training/<model>`):
    /// from each checkpoint's `catastrophic_overfitting_epoch` and its validation accuracies.
    static func overfittingWarnings(_ run: StageRun) throws -> [String] {
        try run.inputs.keys.filter { $0.hasPrefix("training/") }.sorted().compactMap { role in
            try run.store.read(try run.input(role)) { r -> String? in
                guard let e = try r.attribute("catastrophic_overfitting_epoch")?.intValue else { return nil }
                let epochs = try r.readInt64("validation/epoch"), pgd = try r.readFloat32("validation/robust_accuracy")
                let fgsm = try r.readFloat32("validation/fgsm_accuracy")
                guard let i = epochs.firstIndex(of: e), i > 0, i < pgd.count, i < fgsm.count else { return nil }
                let b = CatastrophicOverfitting.reference(pgd.map(Double.init), before: i)
                return CatastrophicOverfitting.warning(model: String(role.dropFirst("training/".count)), epoch: Int(e) + 1,
                                                       pgd: (Double(pgd[b]), Double(pgd[i])), fgsm: (Double(fgsm[b]), Double(fgsm[i])))
            }
        }
    }

    /// Table 2, Figure 4 and Figure 6 drawn from the analyze stages' artifacts (inputs `analysis/…`),
    /// exactly as `atalp analyze` draws them; nil when the pipeline has no analysis.
    static func analysis(_ run: StageRun) throws -> (markdown: String, table: String, files: [String: [UInt8]])? {
        let roles = run.inputs.keys.filter { $0.hasPrefix("analysis/") }.sorted()
        guard !roles.isEmpty else { return nil }
        var inputs = AnalysisReport.Inputs()
        for role in roles {
            let id = try run.input(role)
            if role.hasSuffix("/landscape") {
                inputs.landscapes.append(try LossLandscape.read(id, in: run.store))
            } else {
                inputs.activations.append(try ActivationStatistics.read(id, in: run.store))
            }
        }
        let directory = try run.workDirectory() + "/analysis"
        try? FileManager.default.removeItem(atPath: directory)
        let outputs = try AnalysisReport.write(inputs, to: directory)
        var files: [String: [UInt8]] = [:]
        for name in outputs.files + ["analysis.md", "analysis.html"] {
            files[name] = Array(try Foundation.Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)")))
        }
        try? FileManager.default.removeItem(atPath: directory)
        return (outputs.markdown, outputs.table.isEmpty ? "" : KeyRegionStatistics.markdown(outputs.table), files)
    }

    /// Writes the files of a report artifact into `directory` (each atomically); returns their paths.
    @discardableResult
    static func materialize(_ id: ArtifactID, in store: ArtifactStore, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try store.read(id) { r in
            var written: [String] = []
            for path in try r.datasetPaths() where path.hasPrefix("files/") {
                let name = String(path.dropFirst("files/".count))
                let target = "\(directory)/\(name)"
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                let bytes = Foundation.Data(try r.readUInt8(path))
                if (try? Foundation.Data(contentsOf: URL(fileURLWithPath: target))) != bytes {
                    try bytes.write(to: URL(fileURLWithPath: target), options: .atomic)
                }
                written.append(target)
            }
            return written
        }
    }
}
