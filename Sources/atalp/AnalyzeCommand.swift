import Analysis
import ArgumentParser
import Foundation
import Store

/// `atalp analyze ARTIFACT…`: Table 2 and Figures 4 and 6 from saved activation and loss-landscape
/// artifacts alone — no model and no data set are read.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Redraw the attention figures, key-region table and loss landscapes from saved artifacts.",
        discussion: """
            Each ARTIFACT is an HDF5 file path or an artifact id (or unique prefix of at least 4 hex digits) in \
            the store, of kind "activation-stats" or "loss-landscape". Writes analysis.md, key-regions.md, \
            key-regions.csv, key-regions.svg, attention/ (PNG) and landscapes/ (SVG) under --output.
            """)

    @Argument(help: "Activation or loss-landscape artifacts: file paths or store ids.")
    var artifacts: [String]
    @OptionGroup var store: StoreOptions
    @Option(help: ArgumentHelp("Directory for the report and figures.", valueName: "DIR"))
    var output: String = "analysis"
    @Option(parsing: .upToNextOption, help: "Test images to draw in the attention figure (default: every saved subset image).")
    var images: [Int] = []

    func validate() throws {
        guard !artifacts.isEmpty else { throw ValidationError("give at least one artifact (a file path or a store id)") }
    }

    func run() throws {
        var opened: ArtifactStore? = nil
        var paths: [String] = []
        for text in artifacts {
            if FileManager.default.fileExists(atPath: text) { paths.append(text); continue }
            if opened == nil { opened = try store.open(create: false) }
            let id = try opened!.resolve(text)
            if case .corrupt(let reason) = opened!.state(of: id) { throw ValidationError("artifact \(id.short) is corrupt: \(reason)") }
            paths.append(opened!.path(of: id))
        }
        let inputs = try AnalysisReport.load(paths: paths)
        let outputs = try AnalysisReport.write(inputs, to: output, figureImages: images.isEmpty ? nil : images)
        print("read \(inputs.activations.count) activation and \(inputs.landscapes.count) loss-landscape artifact(s)")
        if !outputs.table.isEmpty { print(KeyRegionStatistics.markdown(outputs.table), terminator: "") }
        print("wrote \(outputs.files.count) files under \(output)/ (start with \(output)/analysis.md)")
    }
}
