import Cluster
import Foundation
import Robustness
import Store
import Tensors

/// How a run goes: which stages, whether to compute, how often training checkpoints.
public struct RunOptions: Sendable {
    /// Run only these stages and what they depend on (see `StageGraph.closure`); empty: all.
    public var stages: [String] = []
    /// Say what would run; run nothing.
    public var dryRun = false
    /// Training saves a resumable checkpoint at every epoch end and at least this often.
    public var checkpointSeconds: Double = 60
    /// …and every this many steps, when set.
    public var checkpointEverySteps: Int?
    /// Stages run side by side (each stage uses every core already; more helps only on big machines).
    public var jobs = 1
    /// Where the report goes (default: the pipeline's `report.directory`).
    public var reportDirectory: String?
    /// The ranks that run the pipeline together (`mpirun -np N`): training data-parallel, attacks and
    /// evaluation sharded, rank 0 writing (`runCollectively`). One process by default.
    public var communicator: Communicator = .single
    /// Synchronised batch norm in data-parallel training (see `DataParallelism`).
    public var synchronizedBatchNorm = true
    /// Key training stages as trained by this many ranks instead of the job's: a run on a workstation
    /// reuses what `mpirun -np N` trained (`--training-ranks N`). Such a stage is never computed here;
    /// when the store lacks it the run stops with an error.
    public var trainingRanks: Int?
    /// This job's group when `mpirun` ranks are split into groups that run independent stages at
    /// once (`--groups`; `communicator` is then the group's): index 0..<count.
    public var group: (index: Int, count: Int)?

    public init() {}
}

/// What a stage is, or will be, in a run.
public struct StageState: Sendable {
    public enum State: String, Sendable { case fresh, stale, computed, reused, skipped }
    public var node: String
    public var stage: String
    public var state: State
    /// Why it is stale ("changed params: beta (1.0 → 2.0)"), or how long it took.
    public var detail: [String]
    public var key: StageKey?
    public var outputs: [String: ArtifactID]
}

/// Runs a pipeline against an artifact store: builds the stage graph, computes each key from its
/// inputs' ids, reuses every stage whose key the store already holds, and computes the rest in
/// dependency order.
///
///     let runner = try PipelineRunner(definition: try PipelineDefinition.load("pipelines/quick.yaml"), store: store)
///     let summary = try runner.run()           // [StageState], each .computed or .reused
///     runner.status()                          // each .fresh or .stale with the reasons
public final class PipelineRunner: @unchecked Sendable {
    public let definition: PipelineDefinition
    public let graph: StageGraph
    public let store: ArtifactStore
    public let options: RunOptions
    public let progress: ProgressDisplay
    let cache = ArtifactCache()

    public init(definition: PipelineDefinition, store: ArtifactStore, options: RunOptions = RunOptions(),
                progress: ProgressDisplay = ProgressDisplay()) throws {
        self.definition = definition
        graph = try StageGraph(definition)
        self.store = store
        self.options = options
        self.progress = progress
    }

    /// The report directory of this run.
    public var reportDirectory: String { options.reportDirectory ?? definition.report.directory }

    /// Provenance recorded with each run (never part of a key).
    var info: [String: String] {
        // The backend is not in any key (both compute the same function within float rounding), so
        // the record says which one produced each artifact.
        var info = ["pipeline": definition.name, "threads": "\(Parallel.threadCount)", "backend": BackendKind.current.rawValue,
                    "ranks": "\(options.communicator.size)"]
        if let blas = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] { info["openblas_threads"] = blas }
        return info
    }

    /// Runs the stale stages (all, or `options.stages` and their dependencies) and reuses the rest.
    /// With `dryRun`, computes nothing and reports what would run. Writes the report files when the
    /// report stage is part of the run.
    @discardableResult
    public func run() throws -> [StageState] {
        let selected = options.stages.isEmpty ? Set(graph.nodes.map(\.name)) : try graph.closure(of: options.stages)
        let nodes = graph.nodes.filter { selected.contains($0.name) }
        if options.dryRun { return status(only: selected) }
        let results = Locked<[String: [String: ArtifactID]]>([:])
        let states = Locked<[String: StageState]>([:])
        let failure = Locked<Error?>(nil)
        let started = Date()

        /// Runs or reuses `node`; with `claim`, returns false without waiting when another process
        /// (another group of ranks) holds its key's lock.
        @Sendable @discardableResult func execute(_ node: StageNode, claim: Bool = false) throws -> Bool {
            let resolved = results.withLock { $0 }
            var inputs: [String: ArtifactID] = [:]
            for (role, source) in node.inputs {
                guard let id = resolved[source.node]?[source.output] else {
                    throw PipelineError(file: node.name, "input '\(role)': \(source.node) has no output '\(source.output)'")
                }
                inputs[role] = id
            }
            let spec = keyed(node).spec(inputs)
            let key = try spec.key()
            let stageStart = Date()
            let run = StageRun(node: node.name, spec: spec, key: key, store: store, checkpointing: Checkpointing(seconds: options.checkpointSeconds, everySteps: options.checkpointEverySteps),
                               progress: progress, cache: cache, parallelism: DataParallelism(communicator: options.communicator,
                                                                                             synchronizedBatchNorm: options.synchronizedBatchNorm))
            var info = self.info
            info["name"] = node.name
            if node.stage == "train", let ranks = options.trainingRanks, ranks != options.communicator.size, store.lookup(key) == nil {
                throw PipelineError(file: node.name, "the store has no training by \(ranks) ranks to reuse (--training-ranks \(ranks)); "
                                    + "train it with mpirun -np \(ranks), or drop --training-ranks")
            }
            let timeout: Double? = claim ? 0 : nil
            let attempt: (outputs: [String: ArtifactID], computed: Bool)?
            if options.communicator.isDistributed {
                attempt = try runCollectively(node, spec: spec, info: info, run: run, timeout: timeout)
            } else {
                do {
                    attempt = try store.run(spec, info: info, timeout: timeout) {
                        progress.line("▶ \(node.name)")
                        return try RankTimeline.span("stage \(node.name)") { try node.compute(run) }
                    }.asTuple
                } catch StoreError.lockTimeout where claim { attempt = nil }
            }
            guard let result = attempt else { return false }
            let seconds = Date().timeIntervalSince(stageStart)
            if result.computed { progress.line(String(format: "✓ %@ (%@)", node.name, duration(seconds))) }
            results.withLock { $0[node.name] = result.outputs }
            states.withLock {
                $0[node.name] = StageState(node: node.name, stage: node.stage, state: result.computed ? .computed : .reused,
                                           detail: result.computed ? [String(format: "%.1f s", seconds)] : [], key: key, outputs: result.outputs)
            }
            return true
        }

        // Ranks of an MPI job must enter each stage's collectives in the same order: one stage at a time.
        if let group = options.group, group.count > 1 {
            // Groups of ranks share the pipeline: each takes the ready stages no other group holds.
            try runClaiming(nodes, selected: selected, group: group, done: { Set(states.withLock { $0.keys }) },
                            attempt: { try execute($0, claim: true) })
        } else if options.jobs <= 1 || options.communicator.isDistributed {
            for node in nodes { try execute(node) }
        } else {
            // A small scheduler: a node starts when all its dependencies are done, at most `jobs` at once.
            let pending = Locked(nodes.map(\.name))
            let group = DispatchGroup()
            let slots = DispatchSemaphore(value: options.jobs)
            let doneSignal = NSCondition()
            var running: Set<String> = []
            while true {
                if failure.withLock({ $0 }) != nil { break }
                let done = Set(states.withLock { $0.keys })
                let ready = pending.withLock { list in list.filter { name in
                    !running.contains(name) && graph.node(name)!.dependencies.allSatisfy { done.contains($0) || !selected.contains($0) }
                } }
                if pending.withLock({ $0.isEmpty }) { break }
                if ready.isEmpty {
                    doneSignal.lock(); _ = doneSignal.wait(until: Date().addingTimeInterval(0.05)); doneSignal.unlock()
                    running = running.filter { !done.contains($0) }
                    continue
                }
                for name in ready {
                    running.insert(name)
                    slots.wait()
                    let node = graph.node(name)!
                    DispatchQueue.global().async(group: group) {
                        defer { slots.signal(); doneSignal.lock(); doneSignal.signal(); doneSignal.unlock() }
                        do { try execute(node) } catch { failure.withLock { $0 = $0 ?? error } }
                        pending.withLock { $0.removeAll { $0 == name } }
                    }
                }
            }
            group.wait()
            if let error = failure.withLock({ $0 }) { throw error }
        }
        // One writer of the report files: the leader, and with groups the first group's (every group
        // ends with the report among its results, computed or reused).
        if options.communicator.isLeader, (options.group?.index ?? 0) == 0,
           let outputs = results.withLock({ $0["report"] }), let report = outputs["report"] {
            try ReportStage.materialize(report, in: store, to: reportDirectory)
        }
        let all = states.withLock { $0 }
        let computed = all.values.filter { $0.state == .computed }.count
        progress.line("\(definition.name): \(computed) stage\(computed == 1 ? "" : "s") computed, \(all.count - computed) reused, "
                      + duration(Date().timeIntervalSince(started)))
        return nodes.compactMap { all[$0.name] }
    }

    /// Every stage fresh or stale, and for a stale one why: which parameter or input changed, in
    /// the store's vocabulary. A stage downstream of a stale one is stale because its input will
    /// change; its own parameter changes are reported too.
    public func status(only selected: Set<String>? = nil) -> [StageState] {
        var known: [String: [String: ArtifactID]] = [:]
        var stale: Set<String> = []
        var states: [StageState] = []
        let records = (try? store.runRecords()) ?? []
        for node in graph.nodes where selected?.contains(node.name) ?? true {
            let previous = records.first { $0.info["name"] == node.name && $0.info["pipeline"] == definition.name }
                ?? records.first { $0.info["name"] == node.name }
            var inputs: [String: ArtifactID] = [:]
            var waiting: [String] = []
            for (role, source) in node.inputs.sorted(by: { $0.key < $1.key }) {
                if let id = known[source.node]?[source.output] { inputs[role] = id } else {
                    if !waiting.contains(source.node) { waiting.append(source.node) }
                    if let old = previous?.inputs[role] { inputs[role] = old }
                }
            }
            let spec = keyed(node).spec(inputs)
            let key = try? spec.key()
            if waiting.isEmpty, let key, let outputs = store.lookup(key) {
                known[node.name] = outputs
                states.append(StageState(node: node.name, stage: node.stage, state: .fresh, detail: [], key: key, outputs: outputs))
                continue
            }
            stale.insert(node.name)
            var reasons = store.diagnose(spec, instance: node.name).filter { $0 != "up to date" }
            if !waiting.isEmpty {
                reasons = reasons.filter { !$0.hasPrefix("never run") || previous == nil }
                reasons.append("input from stale stage\(waiting.count == 1 ? "" : "s") " + waiting.joined(separator: ", "))
            }
            if reasons.isEmpty { reasons = ["never run"] }
            states.append(StageState(node: node.name, stage: node.stage, state: .stale, detail: reasons,
                                     key: waiting.isEmpty ? key : nil, outputs: [:]))
        }
        return states
    }
}

extension RunResult {
    var asTuple: (outputs: [String: ArtifactID], computed: Bool) { (outputs, computed) }
}
