import ArgumentParser
import Foundation
import Pipeline
import Store

/// `atalp report PIPELINE`: writes the report of the pipeline's last run (Table 1, Figure 3).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a pipeline's report: Table 1 and Figure 3 as Markdown, CSV, SVG and one HTML page.",
        discussion: """
            Needs every evaluation of the pipeline in the store (run `atalp run PIPELINE` first); builds the \
            report stage if it is stale, and writes report.md, table1.csv, results.csv, figure3-*.svg and \
            index.html into the report directory.

            Exit status: 0 on success, 1 when evaluations are missing or the pipeline file is invalid.
            """)

    @OptionGroup var store: StoreOptions
    @Argument(help: "The pipeline file.") var pipeline: String
    @Option(help: ArgumentHelp("Write the report here (default: the pipeline's report.directory, else reports/<name>/).", valueName: "DIR"))
    var output: String?

    func run() throws {
        let definition = try PipelineDefinition.load(pipeline)
        let store = try store.open(create: false, repairs: false)
        var options = RunOptions()
        options.stages = ["report"]
        options.reportDirectory = output
        let runner = try PipelineRunner(definition: definition, store: store, options: options, progress: ProgressDisplay(quiet: true))
        guard runner.graph.node("report") != nil else {
            throw ValidationError("\(pipeline) has no attacks, so there is nothing to report")
        }
        let stale = runner.status().filter { $0.state == .stale && $0.node != "report" }
        if !stale.isEmpty {
            FileHandle.standardError.write(Data(("error: \(stale.count) stage\(stale.count == 1 ? " is" : "s are") stale ("
                + stale.prefix(5).map(\.node).joined(separator: ", ") + (stale.count > 5 ? ", …" : "")
                + "); run `atalp run \(pipeline)` first\n").utf8))
            throw ExitCode(1)
        }
        try runner.run()
        print("\(runner.reportDirectory)/index.html")
        print("\(runner.reportDirectory)/report.md")
    }
}
