import Cluster
import Foundation
import Store

/// How the ranks of an MPI job (`RunOptions.communicator`, size > 1) run one stage together.
///
/// Rank 0, the leader, alone touches the store's keys: it looks the key up and takes the key's lock
/// (`ArtifactStore.run`), so another job, or another group of this one, never computes the same
/// stage at the same time; it tells the other ranks whether the stage is to be computed, and once it
/// has put the outputs and recorded the run, their ids. The other ranks compute with it when the
/// stage is one that divides its work (`collectiveStages`: training, data-parallel; attacks,
/// evaluation and analysis, sharded by batch) and otherwise wait for the ids. A rank that fails makes the CLI end
/// the whole job (`Communicator.abort`): the others would wait forever in their next collective,
/// and the store, whose writes are atomic, is left as a killed process leaves it.
extension PipelineRunner {
    /// Stage kinds whose computation every rank takes part in.
    static let collectiveStages: Set<String> = ["train", "adversarial-generate", "evaluate", "analyze"]

    private static let compute: [UInt8] = [1], reuse: [UInt8] = [0], busy: [UInt8] = [2]

    /// With `timeout` 0 (a group claiming stages): nil on every rank when another process holds the key.
    func runCollectively(_ node: StageNode, spec: StageSpec, info: [String: String], run: StageRun, timeout: Double? = nil)
        throws -> (outputs: [String: ArtifactID], computed: Bool)? {
        let communicator = options.communicator
        let shares = Self.collectiveStages.contains(node.stage)
        guard communicator.isLeader else {
            let decision = RankTimeline.span("wait: leader looks up \(node.name)") { communicator.broadcast([]) }
            if decision == Self.busy { return nil }
            if decision == Self.compute && shares { _ = try RankTimeline.span("stage \(node.name)") { try node.compute(run) } }
            let outputs = RankTimeline.span("wait: leader records \(node.name)") { communicator.broadcast([]) }
            return (Self.decode(outputs), decision == Self.compute)
        }
        var announced = false
        let result: RunResult
        let lookup = RankTimeline.now
        var recorded = lookup
        do {
            result = try store.run(spec, info: info, timeout: timeout) {
            RankTimeline.record("look up \(node.name)", since: lookup)
            _ = communicator.broadcast(Self.compute)
            announced = true
            progress.line("▶ \(node.name)" + (shares ? " (\(communicator.size) ranks)" : ""))
            let (before, started) = (communicator.communicationSeconds, Date())
            let outputs = try RankTimeline.span("stage \(node.name)") { try node.compute(run) }
            recorded = RankTimeline.now
            if shares {
                progress.line(String(format: "%@: %.2f s of %.2f s in MPI on rank 0 (gathering, waiting for the other ranks)", node.name,
                                     communicator.communicationSeconds - before, Date().timeIntervalSince(started)))
            }
            return outputs
            }
        } catch StoreError.lockTimeout where timeout != nil && !announced {
            _ = communicator.broadcast(Self.busy)
            return nil
        }
        if announced { RankTimeline.record("record run \(node.name)", since: recorded) } else {
            RankTimeline.record("look up \(node.name)", since: lookup)
            _ = communicator.broadcast(Self.reuse)
        }
        _ = communicator.broadcast(Self.encode(result.outputs))
        return (result.outputs, result.computed)
    }

    private static func encode(_ outputs: [String: ArtifactID]) -> [UInt8] {
        var p = Payload()
        p.append(outputs.count)
        for (role, id) in outputs.sorted(by: { $0.key < $1.key }) { p.append(string: role); p.append(string: id.hex) }
        return p.bytes
    }

    private static func decode(_ bytes: [UInt8]) -> [String: ArtifactID] {
        var p = Payload(bytes: bytes)
        var outputs: [String: ArtifactID] = [:]
        for _ in 0..<p.int() {
            let role = p.string()
            if let id = ArtifactID(p.string()) { outputs[role] = id }
        }
        return outputs
    }

    /// The node as this run keys it: a training stage run by N > 1 ranks carries N and the batch-norm
    /// mode in its key (`distributed.ranks`, `distributed.batch_norm`): its weights depend on them
    /// (the order of the gradient sums; per-rank statistics with local batch norm). One process keys
    /// as before. Attacks, evaluation and analysis are the same bytes for any N and carry nothing.
    /// `RunOptions.trainingRanks` keys training as run on another number of ranks (to reuse it).
    func keyed(_ node: StageNode) -> StageNode {
        let ranks = options.trainingRanks ?? options.communicator.size
        guard node.stage == "train", ranks > 1 else { return node }
        var node = node
        node.parameters["distributed"] = .object(["ranks": .int(Int64(ranks)),
                                                  "batch_norm": .string(options.synchronizedBatchNorm ? "sync" : "local")])
        return node
    }
}
