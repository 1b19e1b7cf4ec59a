import ArgumentParser
import Cluster
import Foundation
import Pipeline
import Store

/// `atalp run PIPELINE`: runs a pipeline file's stages against the store, computing only what changed.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: train, attack, evaluate and report, reusing every stage whose inputs did not change.",
        discussion: """
            Stages: ingest, preprocess, train:<model>, attack:<attack>:<source>@<ε>, evaluate:<model>:<attack>, \
            analyze:<name>, report. Each is keyed by its parameters and the ids of its inputs; a stage whose key \
            the store holds is reused, not rerun. A training stage killed part-way resumes from its last \
            checkpoint on the next run and ends with the same weights.

            Exit status: 0 on success, 1 when the pipeline file is invalid or a stage fails, 64 on a usage error.
            """)

    @OptionGroup var store: StoreOptions
    @Argument(help: "The pipeline file (e.g. pipelines/quick.yaml).") var pipeline: String
    @Option(name: .customLong("stage"), parsing: .upToNextOption,
            help: ArgumentHelp("Run only these stages (a name, a kind such as 'train', or a prefix such as 'train:atalp') and what they need.", valueName: "NAME"))
    var stages: [String] = []
    @Flag(help: "Show what would run and why; run nothing.") var dryRun = false
    @Option(help: ArgumentHelp("Write the report here (default: the pipeline's report.directory, else reports/<name>/).", valueName: "DIR"))
    var reportDir: String?
    @Option(help: ArgumentHelp("Training checkpoint interval in seconds (besides every epoch end).", valueName: "SECONDS"))
    var checkpointSeconds: Double = 60
    @Option(help: ArgumentHelp("Also checkpoint training every N steps.", valueName: "N")) var checkpointEverySteps: Int?
    @Option(help: "Stages to run side by side (each already uses every core; one at a time under MPI).") var jobs: Int = 1
    @Option(help: ArgumentHelp("Batch norm in data-parallel training under mpirun: sync (statistics of the whole global batch, the default) or local (each rank's slice).", valueName: "MODE"))
    var batchNorm: String = "sync"
    @Option(help: ArgumentHelp("Reuse training stages as run by N ranks (mpirun -np N) instead of keying them by this job's ranks; never trains.", valueName: "N"))
    var trainingRanks: Int?
    @Option(help: ArgumentHelp("Under mpirun: split the ranks into G groups (contiguous blocks) that run independent stages at once over the shared store.", valueName: "G"))
    var groups: Int = 1

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard groups >= 1 else { throw ValidationError("--groups must be at least 1") }
        if let n = trainingRanks, n < 1 { throw ValidationError("--training-ranks must be at least 1") }
        guard ["sync", "local"].contains(batchNorm) else { throw ValidationError("--batch-norm must be 'sync' or 'local', not '\(batchNorm)'") }
        guard checkpointSeconds >= 0 else { throw ValidationError("--checkpoint-seconds must be ≥ 0") }
        if let n = checkpointEverySteps, n < 1 { throw ValidationError("--checkpoint-every-steps must be at least 1") }
    }

    func run() throws {
        let definition = try PipelineDefinition.load(pipeline)
        var options = RunOptions()
        options.stages = stages
        options.dryRun = dryRun
        options.reportDirectory = reportDir
        options.checkpointSeconds = checkpointSeconds
        options.checkpointEverySteps = checkpointEverySteps
        options.jobs = jobs
        // Under mpirun every rank runs the pipeline: training data-parallel, attacks and evaluation
        // sharded, rank 0 writing and printing (docs/cluster.md). Otherwise one process, as always.
        let world = Communicator.world
        guard groups <= world.size else {
            throw ValidationError("--groups \(groups) needs at least \(groups) ranks; this job has \(world.size) (mpirun -np N)")
        }
        options.communicator = groups > 1 ? world.split(color: world.rank * groups / world.size, key: world.rank) : world
        if groups > 1 { options.group = (world.rank * groups / world.size, groups) }
        options.synchronizedBatchNorm = batchNorm == "sync"
        options.trainingRanks = trainingRanks
        let leader = options.communicator.isLeader
        // Rank 0 creates (and repairs) the store before the other ranks open it.
        let opened = try RankTimeline.span("open store") { world.isLeader ? try self.store.open(create: !dryRun, repairs: !dryRun) : nil }
        RankTimeline.span("wait: store opened") { world.barrier() }
        let store = try RankTimeline.span("open store") { try opened ?? self.store.open(create: false, repairs: false) }
        let runner = try PipelineRunner(definition: definition, store: store, options: options, progress: ProgressDisplay(quiet: !leader))
        let states = try runner.run()
        guard world.isLeader else { return }
        if dryRun {
            print(StatusCommand.table(states, dryRun: true), terminator: "")
            return
        }
        if states.contains(where: { $0.node == "report" }) {
            print("report: \(runner.reportDirectory)/index.html (and report.md, table1.csv, table1-summary.csv, results.csv, figure3-*.svg)")
        }
    }
}
