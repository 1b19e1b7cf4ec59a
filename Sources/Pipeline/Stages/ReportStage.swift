import Foundation
import Robustness
import Store

/// report: every evaluation → the report's files, kept in the store as one artifact (kind `report`:
/// one uint8 dataset per file under `files/`, UTF-8) and written out to the report directory.
enum ReportStage {
    static let version = 1

    static func run(title: String, pipeline: String, notes: [String], rows: [(model: ModelSpec, attack: String)],
                    _ run: StageRun) throws -> [String: ArtifactID] {
        var reportRows: [Report.Row] = []
        for row in rows {
            let (evaluations, checks, stages) = try EvaluateStage.read(try run.input("\(row.model.name)/\(row.attack)"), in: run.store)
            reportRows.append(Report.Row(model: row.model.name, label: row.model.label, defense: row.model.defense.kind.rawValue,
                                         attack: row.attack, evaluations: evaluations, checks: checks, ensembleStages: stages))
        }
        let files = Report(title: title, pipeline: pipeline, rows: reportRows, notes: notes).files()
        let id = try run.store.put(run.metadata(kind: "report")) { w in
            try w.createGroup("files")
            for (name, text) in files.sorted(by: { $0.key < $1.key }) {
                let bytes = Array(text.utf8)
                try w.write("files/\(name)", uint8: bytes, shape: [bytes.count])
            }
        }
        return ["report": id]
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
