import ArgumentParser
import Cluster
import Foundation
import Tensors

/// The atalp command-line tool: every subcommand is one verb of the pipeline or the store.
@main
struct Atalp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atalp",
        abstract: "Adversarial robustness with attention and adversarial logit pairing (AT+ALP).",
        subcommands: [RunCommand.self, StatusCommand.self, ReportCommand.self, TrainCommand.self, EvaluateCommand.self, BenchCommand.self, AllreduceBenchCommand.self, IngestCommand.self, PreprocessCommand.self, StoreCommand.self, AnalyzeCommand.self]
    )

    static func main() {
        OpenMPWaitPolicy.restartPassiveIfNeeded()
        RankTimeline.begin()
        // Under MPI with several ranks, a rank that fails must end the job: the others would wait in
        // their next collective forever. One process exits as ArgumentParser always has.
        guard MPIRuntime.isLaunched else { return main(nil) }
        do {
            var command = try parseAsRoot(nil)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let world = Communicator.world
            guard code != .success, world.isDistributed else { exit(withError: error) }
            FileHandle.standardError.write(Data("atalp (rank \(world.rank) of \(world.size)): \(fullMessage(for: error))\n".utf8))
            world.abort(code: code.rawValue)
        }
        exit()
    }
}
