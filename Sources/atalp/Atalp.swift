import ArgumentParser
import Tensors

/// The atalp command-line tool: every subcommand is one verb of the pipeline or the store.
@main
struct Atalp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atalp",
        abstract: "Adversarial robustness with attention and adversarial logit pairing (AT+ALP).",
        subcommands: [RunCommand.self, StatusCommand.self, ReportCommand.self, TrainCommand.self, EvaluateCommand.self, BenchCommand.self, IngestCommand.self, PreprocessCommand.self, StoreCommand.self, AnalyzeCommand.self]
    )

    static func main() {
        OpenMPWaitPolicy.restartPassiveIfNeeded()
        main(nil)
    }
}
