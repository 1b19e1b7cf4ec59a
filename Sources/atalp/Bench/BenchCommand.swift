import ArgumentParser
import Foundation
import Robustness
import Tensors

/// `atalp bench`: images per second and peak memory of the engine's fixed workloads, optionally
/// side by side with the PyTorch peer (benchmarks/peer_pytorch.py) and the ratio atalp/PyTorch.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the engine on fixed workloads (forward, training step, PGD step, PAT and AT+ALP steps).",
        discussion: """
        Every (network, workload) runs in a fresh process so that its peak memory is its own. Speeds are \
        batch / median iteration time. With --peer the PyTorch script runs the same workloads in the same \
        run and the last column is atalp/PyTorch (above 1: atalp is faster).
        """)

    @Option(help: "resnet20 (1×28×28), resnet18 (small-image, 3×32×32) or all.")
    var network: String = "all"
    @Option(help: "forward, train-step, pgd-step, pat-step, atalp-step or all.")
    var workload: String = "all"
    @Option(help: "Images per batch.")
    var batch: Int = 128
    @Option(help: "Timed iterations at least.")
    var iterations: Int = 5
    @Option(name: .customLong("min-time"), help: "Seconds of timed iterations at least.")
    var minTime: Double = 3
    @Flag(help: "One JSON object per line instead of a table.")
    var json = false
    @Flag(help: "Also run the PyTorch peer (python3 with torch) and print atalp/PyTorch.")
    var peer = false
    @Option(name: .customLong("peer-script"), help: "Path of the PyTorch peer.")
    var peerScript: String = "benchmarks/peer_pytorch.py"
    @Option(name: .customLong("peer-layout"), help: "Memory layout of the peer: channels_last or nchw.")
    var peerLayout: String = "channels_last"
    @Flag(help: "Print where the time of each workload asked for goes, per op.")
    var profile = false
    @Option(name: .customLong("fma-peak"),
            help: "The machine's single-precision FMA peak in GFLOP/s, for the convolutions' share of it (this 2-core AVX-512 machine measured 334–344 on 2026-11-30; measure yours with benchmarks/fma-peak.c).")
    var fmaPeak: Double = 334
    @Option(help: .hidden)
    var single: String?

    func validate() throws {
        guard network == "all" || BenchNetwork(rawValue: network) != nil else {
            throw ValidationError("unknown network '\(network)': use resnet20, resnet18 or all")
        }
        guard workload == "all" || BenchWorkload(rawValue: workload) != nil else {
            throw ValidationError("unknown workload '\(workload)': use \(BenchWorkload.allCases.map(\.rawValue).joined(separator: ", ")) or all")
        }
        guard batch > 1 else { throw ValidationError("--batch must be at least 2 (batch norm needs two examples)") }
    }

    func run() throws {
        if let single { return try runSingle(single) }
        let networks = network == "all" ? BenchNetwork.allCases : [BenchNetwork(rawValue: network)!]
        let workloads = workload == "all" ? BenchWorkload.allCases : [BenchWorkload(rawValue: workload)!]

        let rate = machineSgemmRate()
        let sgemm = max(rate.threaded, rate.perCore)
        if json {
            print(#"{"sgemm_gflops_threaded":\#(rate.threaded),"sgemm_gflops_per_core_sum":\#(rate.perCore),"threads":\#(Parallel.threadCount),"backend":"\#(BackendKind.current.rawValue)"}"#)
        } else {
            print(String(format: "machine: %d threads; sgemm 2048³: %.1f GFLOP/s (OpenBLAS threaded), %.1f GFLOP/s (one single-threaded product per core)",
                         Parallel.threadCount, rate.threaded, rate.perCore))
            let environment = ProcessInfo.processInfo.environment
            print("backend: \(BackendKind.current.rawValue) (ATALP_BACKEND); workers: \(Parallel.pool.rawValue) pool, "
                  + "OMP_WAIT_POLICY=\(environment["OMP_WAIT_POLICY"] ?? "unset") GOMP_SPINCOUNT=\(environment["GOMP_SPINCOUNT"] ?? "unset")")
            print("network   input     workload     atalp img/s  peak MiB" + (peer ? "   torch img/s  peak MiB   atalp/torch" : ""))
        }
        for net in networks {
            for wl in workloads {
                let ours = try runChild(["bench", "--single", "\(net.rawValue):\(wl.rawValue)", "--batch", "\(batch)",
                                         "--iterations", "\(iterations)", "--min-time", "\(minTime)"])
                let theirs = peer ? try runPeer(net, wl) : nil
                if json {
                    print(ours.line)
                    if let theirs { print(theirs.line) }
                } else {
                    var row = String(format: "%-9@ %-9@ %-11@ %12.1f %9.0f", net.rawValue, net.inputName, wl.rawValue,
                                     ours.imagesPerSecond, Double(ours.peakBytes) / 1_048_576)
                    if let theirs {
                        row += String(format: "   %11.1f %9.0f   %11.2f", theirs.imagesPerSecond, Double(theirs.peakBytes) / 1_048_576,
                                      ours.imagesPerSecond / theirs.imagesPerSecond)
                    }
                    print(row)
                }
            }
        }
        if profile {
            for net in networks {
                for wl in workloads {
                    printProfile(net, wl, sgemm: sgemm)
                }
            }
        }
    }

    private func runSingle(_ spec: String) throws {
        let parts = spec.split(separator: ":").map(String.init)
        guard parts.count == 2, let net = BenchNetwork(rawValue: parts[0]), let wl = BenchWorkload(rawValue: parts[1]) else {
            throw ValidationError("--single takes NETWORK:WORKLOAD")
        }
        var bench = BenchCase(network: net, workload: wl, batch: batch)
        let speed = bench.measure(minimumIterations: iterations, minimumSeconds: minTime)
        print(#"{"framework":"atalp","network":"\#(net.rawValue)","input":"\#(net.inputName)","batch":\#(batch),"workload":"\#(wl.rawValue)","images_per_second":\#(speed),"peak_rss_bytes":\#(peakResidentBytes()),"threads":\#(Parallel.threadCount),"backend":"\#(BackendKind.current.rawValue)"}"#)
    }

    private func printProfile(_ net: BenchNetwork, _ wl: BenchWorkload, sgemm: Double) {
        var bench = BenchCase(network: net, workload: wl, batch: batch)
        bench.runOnce()
        Profiler.reset()
        Profiler.isEnabled = true
        let steps = 3
        let t0 = Date()
        for _ in 0..<steps { bench.runOnce() }
        let total = Date().timeIntervalSince(t0)
        Profiler.isEnabled = false
        print("\nprofile: \(net.rawValue) \(wl.rawValue), batch \(batch), \(steps) steps, \(String(format: "%.3f", total / Double(steps))) s/step")
        var convSeconds = 0.0, convFlops = 0.0, attributed = 0.0
        for (name, e) in Profiler.report() {
            // Conversions run inside ops (already counted there).
            let inside = name.hasPrefix("layout:") || name.hasPrefix("oneDNN:")
            if !inside { attributed += e.seconds }
            let rateText = e.flops > 0 ? String(format: "  %6.1f GFLOP/s (%3.0f%% of sgemm)", e.flops / e.seconds / 1e9,
                                                100 * e.flops / e.seconds / 1e9 / sgemm) : inside ? "  (inside the ops above)" : ""
            print("  " + padded(name) + String(format: " %6.1f%%  %8.2f ms/step  %6d calls/step", 100 * e.seconds / total,
                         1000 * e.seconds / Double(steps), e.calls / steps) + rateText)
            if name.hasPrefix("conv2d") { convSeconds += e.seconds; convFlops += e.flops }
        }
        print("  " + padded("outside the ops") + String(format: " %6.1f%%  %8.2f ms/step  (loss, optimiser, attack updates, tape)",
                                                          100 * (total - attributed) / total, 1000 * (total - attributed) / Double(steps)))
        if convSeconds > 0 {
            let rate = convFlops / convSeconds / 1e9
            print(String(format: "  convolutions: %.1f GFLOP/s = %.0f%% of the machine's sgemm rate, %.0f%% of the FMA peak (%.0f GFLOP/s)",
                         rate, 100 * rate / sgemm, 100 * rate / fmaPeak, fmaPeak))
        }
        if let dnnl = Tensor.backend as? DNNLBackend {
            // Which kernels oneDNN picked (Winograd, direct, reference fallbacks), counted over the plans made.
            let kernels = Dictionary(grouping: dnnl.implementations()) { plan in
                "\(plan.prefix { $0 != " " }) \(plan.components(separatedBy: ": ").last ?? "?")"
            }
            print("  oneDNN kernels: " + kernels.map { "\($0.key) ×\($0.value.count)" }.sorted().joined(separator: ", "))
        }
    }

    struct Measurement {
        var line: String
        var imagesPerSecond: Double
        var peakBytes: Int
    }

    private func parse(_ output: String, from what: String) throws -> Measurement {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map(String.init),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let speed = (object["images_per_second"] as? NSNumber)?.doubleValue,
              let peak = (object["peak_rss_bytes"] as? NSNumber)?.intValue else {
            throw ValidationError("\(what) printed no measurement:\n\(output)")
        }
        return Measurement(line: line, imagesPerSecond: speed, peakBytes: peak)
    }

    private func runChild(_ arguments: [String]) throws -> Measurement {
        try parse(try capture(Bundle.main.executablePath ?? CommandLine.arguments[0], arguments), from: "atalp bench --single")
    }

    private func runPeer(_ net: BenchNetwork, _ wl: BenchWorkload) throws -> Measurement {
        guard FileManager.default.fileExists(atPath: peerScript) else {
            throw ValidationError("peer script \(peerScript) not found (run from the repository root or pass --peer-script)")
        }
        return try parse(try capture("/usr/bin/env", ["python3", peerScript, "--json", "--network", net.rawValue, "--workload", wl.rawValue,
                                                      "--batch", "\(batch)", "--iterations", "\(iterations)", "--min-time", "\(minTime)",
                                                      "--threads", "\(Parallel.threadCount)", "--layout", peerLayout],
                                     environment: OpenMPWaitPolicy.userEnvironment),
                         from: "the PyTorch peer")
    }
}

/// Runs a program and returns its standard output; a non-zero exit is an error with its output.
func capture(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    if let environment { process.environment = environment }
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw ValidationError("\(executable) \(arguments.joined(separator: " ")) exited with status \(process.terminationStatus):\n\(text)")
    }
    return text
}

/// `name` padded with spaces to a column of 26 characters (`%-22@` does not pad Swift strings).
private func padded(_ name: String) -> String {
    name.count >= 26 ? name : name + String(repeating: " ", count: 26 - name.count)
}
