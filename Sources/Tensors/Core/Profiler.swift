import Foundation

/// Wall-clock time per op kind, switched on by `atalp bench --profile` to show where a step's time
/// goes. Ops are issued from one thread at a time (the parallelism is inside kernels), so the table
/// needs no lock; when disabled a measurement costs one branch.
public enum Profiler {
    public struct Entry: Sendable {
        public var seconds: Double = 0
        public var calls: Int = 0
        public var flops: Double = 0
    }

    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) private static var entries: [String: Entry] = [:]

    @inline(__always)
    public static func measure<T>(_ name: StaticString, flops: Double = 0, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let key = name.description
        entries[key, default: Entry()].seconds += seconds
        entries[key, default: Entry()].calls += 1
        entries[key, default: Entry()].flops += flops
        return result
    }

    public static func reset() { entries = [:] }

    /// Entries by descending time.
    public static func report() -> [(name: String, entry: Entry)] {
        entries.map { ($0.key, $0.value) }.sorted { $0.entry.seconds > $1.entry.seconds }
    }
}
