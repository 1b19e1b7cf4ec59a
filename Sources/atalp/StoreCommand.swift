import ArgumentParser
import Foundation
import Pipeline
import Store

/// `--store DIR`: every command that touches the artifact store takes it.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("store"), help: ArgumentHelp(
        "The artifact store directory (default: $ATALP_STORE, else store/).", valueName: "DIR"))
    var directory: String?

    /// The store. Commands that only read or remove pass `create: false`, so that a mistyped
    /// `--store` is an error instead of a new empty store. Commands that only inspect (status, ls,
    /// show, report, a dry run) pass `repairs: false`: they report damage and never move or delete
    /// anything.
    func open(create: Bool = true, repairs: Bool = true) throws -> ArtifactStore {
        try ArtifactStore(root: directory ?? ArtifactStore.defaultRoot(), create: create, repairs: repairs)
    }
}

/// `atalp store`: inspect and maintain the artifact store.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect and maintain the artifact store.",
        discussion: """
            Every product of the pipeline is an HDF5 artifact in the store, named by the SHA-256 of its \
            content. IDs may be abbreviated to a unique prefix of at least 4 hex digits.
            """,
        subcommands: [List.self, Show.self, Verify.self, GC.self, Pin.self, Unpin.self, Pins.self,
                      Export.self, Import.self, Bench.self, Torture.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List artifacts with kind, size, age and provenance.",
            discussion: """
                --ids prints bare ids for other commands, e.g. every activation analysis in the store, offline:
                  atalp analyze $(atalp store ls --kind activation-stats --kind loss-landscape --ids)
                """)
        @OptionGroup var store: StoreOptions
        @Option(name: .customLong("kind"), help: "Only artifacts of this kind (repeatable): dataset, checkpoint, adversarial-set, activation-stats, loss-landscape, …")
        var kinds: [String] = []
        @Flag(help: "Print full artifact ids only, one per line.")
        var ids = false

        func run() throws {
            let store = try store.open(create: false, repairs: false)
            let artifacts = try store.artifacts().filter { kinds.isEmpty || kinds.contains($0.kind) }
            if ids {
                for a in artifacts { print(a.id.hex) }
            } else {
                print(StoreText.list(artifacts, pins: try store.pins()), terminator: "")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an artifact: metadata, provenance and datasets.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The artifact's id (or a unique prefix).") var id: String

        func run() throws {
            let store = try store.open(create: false, repairs: false)
            print(try StoreText.show(try store.resolve(id), in: store), terminator: "")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every artifact's id from its content; quarantine any that no longer match.",
            discussion: "Exits with status 1 when any artifact is corrupt. Corrupt artifacts are moved to quarantine/ and the stages that made them run again.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Artifacts to verify (default: all).") var ids: [String] = []

        func run() throws {
            let store = try store.open(create: false)
            let ids = try ids.isEmpty ? nil : ids.map { try store.resolve($0) }
            let report = try store.verify(ids) { id, state in
                switch state {
                case .corrupt(let reason): print("CORRUPT  \(id.hex)  \(reason); moved to \(store.root)/quarantine/")
                case .unavailable(let reason): print("UNCHECKED  \(id.hex)  \(reason)")
                default: break
                }
            }
            let checked = report.intact.count + report.corrupt.count
            print("verified \(checked) artifacts: \(report.intact.count) intact, \(report.corrupt.count) corrupt"
                  + (report.unavailable.isEmpty ? "" : "; \(report.unavailable.count) could not be checked now"))
            if !report.corrupt.isEmpty || !report.unavailable.isEmpty { throw ExitCode(1) }
        }
    }

    struct GC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Remove artifacts and run records that no pin or pipeline refers to.",
            discussion: "Kept: pinned artifacts, the outputs of the stages of registered pipelines, and everything they were made from.")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Report what would be removed; remove nothing.") var dryRun = false
        @Option(help: "Seconds to wait for running stages to finish writing.") var wait = 10.0
        @Option(help: "Directory of pipeline files whose stages are kept.") var pipelines = "pipelines"

        func run() throws {
            PipelineGCRoots.register(directory: pipelines)
            let store = try store.open(create: false)
            let report = try store.gc(roots: try GCRootSources.collect(store), dryRun: dryRun, timeout: wait)
            let verb = dryRun ? "would remove" : "removed"
            for a in report.removedArtifacts { print("\(verb) \(a.id.short)  \(a.kind)  \(StoreText.size(a.bytes))") }
            print("\(verb) \(report.removedArtifacts.count) artifacts (\(StoreText.size(report.freedBytes))), "
                + "\(report.removedRuns.count) run records, \(report.removedTemporaryFiles) temporary files; "
                + "kept \(report.keptArtifacts) artifacts, \(report.keptRuns) run records")
        }
    }

    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pin an artifact so gc keeps it (and its inputs).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The artifact's id (or a unique prefix).") var id: String
        @Option(help: "A name for the pin (default: the id).") var name: String?

        func run() throws {
            let store = try store.open(create: false)
            let pin = try store.pin(try store.resolve(id), name: name)
            print("pinned \(pin.id.short) as \(pin.name)")
        }
    }

    struct Unpin: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a pin, by name or by artifact id.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "A pin name, or an artifact id (removes all its pins).") var name: String

        func run() throws {
            for pin in try store.open(create: false).unpin(name) { print("unpinned \(pin.name) (\(pin.id.short))") }
        }
    }

    struct Pins: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pins.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            for pin in try store.open(create: false, repairs: false).pins() { print("\(pin.name)  \(pin.id.hex)") }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write artifacts and the runs that made them into one self-contained HDF5 file, or one artifact as NumPy arrays.",
            discussion: """
                --format npz writes the datasets of one artifact (an adversarial set: images, white_box_images, \
                labels, iterations) as NumPy arrays: np.load(FILE)["images"] is K×N×C×H×W float32 in [0, 1].
                """)
        enum Format: String, ExpressibleByArgument, CaseIterable { case hdf5, npz }
        @OptionGroup var store: StoreOptions
        @Flag(help: "Also include every artifact they were made from, transitively.") var withInputs = false
        @Option(help: "hdf5 (an export file for `atalp store import`) or npz (one artifact's arrays, for NumPy and PyTorch).")
        var format: Format = .hdf5
        @Argument(help: "Artifact ids, then the output file.") var items: [String]

        func validate() throws {
            guard items.count >= 2 else { throw ValidationError("Give at least one artifact id and the output file.") }
            if format == .npz && (items.count != 2 || withInputs) {
                throw ValidationError("--format npz writes one artifact's arrays: give one artifact id and the output file (no --with-inputs)")
            }
        }

        func run() throws {
            let store = try store.open(create: false)
            let ids = try items.dropLast().map { try store.resolve($0) }
            let file = items.last!
            if format == .npz {
                try NPZ.write(hdf5: store.path(of: ids[0]), to: file)
                print("wrote the arrays of \(ids[0].hex.prefix(12)) to \(file)")
                return
            }
            let written = try store.export(ids, to: file, includeInputs: withInputs)
            print("exported \(written.count) artifacts to \(file)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import an export file, verifying every artifact id and run record first.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "A file written by `atalp store export`.") var file: String

        func run() throws {
            let report = try store.open().importFile(file)
            print("imported \(report.added.count) artifacts (\(report.alreadyPresent.count) already present), "
                + "\(report.runsAdded.count) run records (\(report.runsAlreadyPresent.count) already present)")
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time store I/O against h5py doing the same on this machine.",
            discussion: """
                Writes and reads a 60000x28x28 uint8 dataset and a ResNet-18 checkpoint (62 float32 tensors, \
                11.2M parameters), through the HDF5 layer and through the store, and runs the h5py peer \
                (benchmarks/store/h5py_peer.py) on the same workloads. Prints atalp/h5py time ratios \
                (below 1.0: atalp is faster) and the cost of a cache-hit lookup.
                """)
        @Option(help: "Rounds; each round times every workload once in atalp, then once in h5py (medians are reported).")
        var rounds = 5
        @Option(help: "The h5py peer script.") var peer = "benchmarks/store/h5py_peer.py"
        @Option(help: "The Python interpreter with h5py.") var python = "python3"
        @Option(help: "Where to write the files (default: a temp directory).") var directory: String?

        func run() throws {
            let base = directory ?? NSTemporaryDirectory()
            let pid = ProcessInfo.processInfo.processIdentifier
            let workloads = StoreBenchmark.Workloads()
            // Interleaved rounds, so that load from other processes on a shared machine hits both sides alike.
            var ours: [String: [StoreBenchmark.Timing]] = [:], theirs: [String: [[String: Double]]] = [:]
            var names: [String] = []
            for _ in 0..<rounds {
                for t in try StoreBenchmark.run(workloads, directory: "\(base)/atalp-store-bench-\(pid)", repeats: 1) {
                    if ours[t.name] == nil { names.append(t.name) }
                    ours[t.name, default: []].append(t)
                }
                for (name, values) in try runPeer() { theirs[name, default: []].append(values) }
            }
            let lookup = try StoreBenchmark.lookupCost(directory: "\(base)/atalp-store-bench-lookup-\(pid)")
            // Minimum and median of the rounds: the minimum is the least disturbed by other load.
            var rows = [["workload", "size", "atalp write", "h5py write", "ratio", "atalp read", "h5py read", "ratio"]]
            for name in names {
                let mine = ours[name]!, peer = theirs[name] ?? []
                let w = mine.map(\.write), r = mine.map(\.read)
                let pw = peer.compactMap { $0["write"] }, pr = peer.compactMap { $0["read"] }
                rows.append([name, StoreText.size(mine[0].bytes), ms(w), ms(pw), ratio(w, pw), ms(r), ms(pr), ratio(r, pr)])
            }
            print(StoreText.table(rows), terminator: "")
            print("cache-hit lookup (2 outputs): \(String(format: "%.1f", lookup * 1e6)) µs")
            print("min / median of \(rounds) interleaved rounds; ratio = atalp time / h5py time (goal ≤ 1.0)")
            #if DEBUG
            print("warning: this is a debug build; build with -c release for meaningful timings")
            #endif
        }

        func runPeer() throws -> [String: [String: Double]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, peer, "--repeat", "1"] + (directory.map { ["--dir", $0] } ?? [])
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                  let results = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Double]] else {
                throw ValidationError("the h5py peer (\(python) \(peer)) failed; is h5py installed (pip install h5py)?")
            }
            return results
        }

        func median(_ values: [Double]) -> Double {
            let s = values.sorted()
            return s.isEmpty ? .nan : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }

        func ms(_ values: [Double]) -> String {
            values.isEmpty ? "-" : String(format: "%.0f / %.0f ms", values.min()! * 1000, median(values) * 1000)
        }
        func ratio(_ a: [Double], _ b: [Double]) -> String {
            guard let amin = a.min(), let bmin = b.min(), bmin > 0 else { return "-" }
            return String(format: "%.2f / %.2f", amin / bmin, median(a) / median(b))
        }
    }

    /// A synthetic stage for crash and concurrency experiments; not for users.
    struct Torture: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "_torture", abstract: "Compute a synthetic stage (for store crash tests).", shouldDisplay: false)
        @OptionGroup var store: StoreOptions
        @Option var seed = 1
        @Option var megabytes = 64
        @Option(help: "Seconds to sleep between 1 MiB datasets.") var pause = 0.0

        func run() throws {
            let result = try StoreTorture.run(store: store.open(), seed: seed, megabytes: megabytes, pause: pause) {
                FileHandle.standardOutput.write(Data("computing \(megabytes) MiB (pid \(ProcessInfo.processInfo.processIdentifier))\n".utf8))
            }
            print("\(result.computed ? "computed" : "reused") key \(result.key.short): data = \(result.outputs["data"]!.hex)")
        }
    }
}
