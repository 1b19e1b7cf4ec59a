import Foundation

/// Where each rank's wall-clock time goes, for profiling a job's scaling: with `ATALP_TIMELINE=DIR`
/// every process appends one JSON line per span to `DIR/rank-<r>.jsonl` —
///
///     {"rank":0,"span":"attack batch","index":3,"start":1764440000.123456,"end":1764440004.9}
///
/// (`start`/`end` in seconds since 1970, so the spans of all ranks and the launcher's own clock
/// line up on one machine). Without the variable nothing is measured or written. The spans are
/// what a rank does in order — process start, MPI_Init, opening the store, loading data and model,
/// each batch, gathering, the leader's writes, the wait for the leader — so that a scaling loss can
/// be pinned on start-up cost, imbalance, or the leader's serial work rather than guessed at
/// (`benchmarks/mpi/timeline.py` reads them). Lines are written as the spans end, so a killed
/// rank's file shows where it was.
public enum RankTimeline {
    private static let sink: Sink? = {
        guard let directory = ProcessInfo.processInfo.environment["ATALP_TIMELINE"], !directory.isEmpty else { return nil }
        return Sink(directory: directory)
    }()

    public static var isEnabled: Bool { sink != nil }

    /// Seconds since 1970 now.
    public static var now: Double { Date().timeIntervalSince1970 }

    /// Runs `body` and records it as `span` (with `index`, e.g. a batch's, when given).
    @discardableResult
    public static func span<T>(_ span: String, index: Int? = nil, _ body: () throws -> T) rethrows -> T {
        guard let sink else { return try body() }
        let start = now
        defer { sink.write(span, index: index, start: start, end: now) }
        return try body()
    }

    /// Records a span that started at `start` (seconds since 1970) and ends now.
    public static func record(_ span: String, index: Int? = nil, since start: Double) {
        sink?.write(span, index: index, start: start, end: now)
    }

    /// Records the process's start-up (from the kernel's start time of the process — before the
    /// dynamic loader and any restart by exec — to now) and arranges an `exit` mark at exit, after
    /// MPI_Finalize when MPI registered its own exit handler first. Call once, first thing in main.
    public static func begin() {
        guard let sink else { return }
        if let started = processStartTime() { sink.write("process start", index: nil, start: started, end: now) }
        atexit { RankTimeline.sink?.write("exit", index: nil, start: RankTimeline.now, end: RankTimeline.now) }
    }

    /// The process's start (seconds since 1970): now minus its age, the age being the system's uptime
    /// (/proc/uptime) less the start field of /proc/self/stat (clock ticks after boot). Resolution one
    /// tick (10 ms); /proc/stat's boot time would be off by up to a second (it is whole seconds).
    static func processStartTime() -> Double? {
        let wall = now
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"),
              let uptimeText = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
              let uptime = Double(uptimeText.split(separator: " ")[0]) else { return nil }
        // Fields after "pid (comm)": state is field 3; starttime is field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        return wall - (uptime - ticks / Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// This process's rank from the launcher's environment (0 without one): read there rather than
    /// from MPI so that spans before MPI_Init, and processes that never initialise MPI, have one.
    static var launcherRank: Int {
        let environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"] {
            if let s = environment[name], let r = Int(s) { return r }
        }
        return 0
    }

    private final class Sink: @unchecked Sendable {
        let rank = RankTimeline.launcherRank
        let handle: FileHandle?
        let lock = NSLock()

        init(directory: String) {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = "\(directory)/rank-\(rank).jsonl"
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            handle = FileHandle(forWritingAtPath: path)
            handle?.seekToEndOfFile()
        }

        func write(_ span: String, index: Int?, start: Double, end: Double) {
            let name = span.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            let line = "{\"rank\":\(rank),\"span\":\"\(name)\"," + (index.map { "\"index\":\($0)," } ?? "")
                + "\"start\":" + String(format: "%.6f", start) + ",\"end\":" + String(format: "%.6f", end) + "}\n"
            lock.lock(); defer { lock.unlock() }
            handle?.write(Data(line.utf8))
        }
    }
}
