import Cluster
import Foundation
import Store

/// Independent stages at once: the ranks of an `mpirun` job split into groups (`atalp run --groups G`:
/// contiguous blocks of ranks), each running the same pipeline over the same store, which must be on a
/// filesystem every node shares. A group's leader picks the next stage among those whose inputs the
/// group has, starting at a different place for each group, and claims its key's lock without waiting
/// (`ArtifactStore.run` with timeout 0); a stage another group holds is skipped and tried again later,
/// when it is usually done and reused. The store's lock is what keeps two groups from computing one
/// stage; the ten defenses of Table 1, gray-box copies and seeds train side by side.
extension PipelineRunner {
    private static let waitMessage = "\u{0}wait"

    func runClaiming(_ nodes: [StageNode], selected: Set<String>, group: (index: Int, count: Int), done: () -> Set<String>,
                     attempt: (StageNode) throws -> Bool) throws {
        let communicator = options.communicator
        var pending = nodes.map(\.name)
        var busy: Set<String> = []
        while !pending.isEmpty {
            // The leader chooses; the group's ranks follow its choice.
            var choice = ""
            if communicator.isLeader {
                let finished = done()
                let ready = pending.filter { name in
                    !busy.contains(name) && graph.node(name)!.dependencies.allSatisfy { finished.contains($0) || !selected.contains($0) }
                }
                let start = ready.isEmpty ? 0 : group.index * ready.count / group.count
                choice = ready.isEmpty ? Self.waitMessage : ready[start]
            }
            choice = String(decoding: communicator.broadcast(Array(choice.utf8)), as: UTF8.self)
            if choice == Self.waitMessage {
                busy.removeAll()
                if communicator.isLeader { usleep(200_000) }
                continue
            }
            if try attempt(graph.node(choice)!) {
                pending.removeAll { $0 == choice }
                busy.removeAll()
            } else {
                busy.insert(choice)
            }
        }
    }
}
