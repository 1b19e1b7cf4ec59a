import ArgumentParser
import Foundation
import Pipeline
import Store

/// `atalp status PIPELINE`: every stage fresh or stale, and why.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every stage of a pipeline as fresh or stale, and for a stale one why.",
        discussion: """
            Reasons: never run; changed params: beta (1.0 → 2.0); changed deps: data (3fa9… → 77aa…); \
            new implementation version; missing or corrupt output; input from stale stage X.

            Exit status: 0 when every stage is fresh, 1 when some are stale or the pipeline file is invalid.
            """)

    @OptionGroup var store: StoreOptions
    @Argument(help: "The pipeline file.") var pipeline: String
    @Flag(help: "Instead of the table, list each fresh stage's outputs: 'STAGE OUTPUT ID PATH' a line (for scripts: the checkpoint of train:pat is 'train:pat best …').")
    var outputs = false
    @Option(help: ArgumentHelp("Key training stages as trained by N ranks (mpirun -np N; see atalp run --training-ranks).", valueName: "N"))
    var trainingRanks: Int?
    @Option(help: ArgumentHelp("With --training-ranks: the batch norm of that training, sync or local.", valueName: "MODE"))
    var batchNorm: String = "sync"

    func validate() throws {
        if let n = trainingRanks, n < 1 { throw ValidationError("--training-ranks must be at least 1") }
        guard ["sync", "local"].contains(batchNorm) else { throw ValidationError("--batch-norm must be 'sync' or 'local', not '\(batchNorm)'") }
    }

    func run() throws {
        let definition = try PipelineDefinition.load(pipeline)
        let store = try store.open(create: false, repairs: false)
        var options = RunOptions()
        options.trainingRanks = trainingRanks
        options.synchronizedBatchNorm = batchNorm == "sync"
        let runner = try PipelineRunner(definition: definition, store: store, options: options)
        let states = runner.status()
        if outputs {
            for s in states where s.state == .fresh {
                for (name, id) in s.outputs.sorted(by: { $0.key < $1.key }) { print("\(s.node) \(name) \(id) \(store.path(of: id))") }
            }
            return
        }
        print(Self.table(states, dryRun: false), terminator: "")
        if states.contains(where: { $0.state == .stale }) { throw ExitCode(1) }
    }

    static func table(_ states: [StageState], dryRun: Bool) -> String {
        let width = min(max(states.map(\.node.count).max() ?? 5, 5), 60)
        var out = ""
        for s in states {
            let word = s.state == .fresh ? (dryRun ? "reuse" : "fresh") : (dryRun ? "run" : "stale")
            let name = s.node.padding(toLength: max(width, s.node.count), withPad: " ", startingAt: 0)
            out += "\(name)  \(word.padding(toLength: 5, withPad: " ", startingAt: 0))  \(s.detail.joined(separator: "; "))\n"
        }
        let stale = states.filter { $0.state == .stale }.count
        out += dryRun ? "\(stale) of \(states.count) stages would run\n" : "\(states.count - stale) fresh, \(stale) stale\n"
        return out
    }
}
