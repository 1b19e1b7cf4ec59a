import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// libgomp's workers wait for the next parallel region by spinning (up to 300 000 spins) unless
/// `OMP_WAIT_POLICY=passive`, and libgomp reads that variable once, when it is loaded — before any
/// Swift code runs, so a process cannot change it for itself.
///
/// Measured on this shared 2-core machine (ResNet-20 training step, batch 128, other jobs holding the
/// load at ~6): 0.56–0.63 s/step passive against 1.4–2.6 s/step spinning, with the same oneDNN
/// primitives — spinning workers burn the time slices the working ones need. Fully passive costs a
/// futex wake per region, and a step has a few hundred regions: idle, a short spin first
/// (`GOMP_SPINCOUNT`, which overrides the policy's count) is faster. Measured 2026-11-30 (the engine
/// before the own batch-norm kernel and the Winograd rule), `OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=S
/// atalp bench --network resnet20 --workload train-step`, images/s, medians of 4 alternating runs idle /
/// of 2 with two busy processes beside it:
///
/// | S | 0 | 3 000 | 10 000 | 30 000 | 300 000 (libgomp's default) |
/// |---|---:|---:|---:|---:|---:|
/// | idle | 625 | 660 | 665 | 686 | — |
/// | loaded | 281 | 276 | 302 | 218 | 155 |
///
/// 30 000 is a little faster idle but loses a quarter beside busy processes; 10 000 gains idle and is
/// level with no spin under load. So the CLI restarts itself once with `OMP_WAIT_POLICY=passive
/// GOMP_SPINCOUNT=10000` (about 0.1 ms of spinning, then sleep) when the OpenMP pool is in use and the
/// user has chosen neither.
public enum OpenMPWaitPolicy {
    /// Set in the restarted process, so that child processes (e.g. the bench's PyTorch peer) can be
    /// given the user's own environment back.
    public static let markerVariable = "ATALP_SET_OMP_WAIT_POLICY"

    /// Spins before a worker sleeps (see the table above).
    public static let spinCount = "10000"

    /// Replaces the process with itself under `OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=10000` when needed;
    /// returns when not (or when `execv` fails, in which case the process goes on with libgomp's default).
    public static func restartPassiveIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard Parallel.pool == .openmp, environment["OMP_WAIT_POLICY"] == nil, environment["GOMP_SPINCOUNT"] == nil else { return }
        setenv("OMP_WAIT_POLICY", "passive", 1)
        setenv("GOMP_SPINCOUNT", spinCount, 1)
        setenv(markerVariable, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OMP_WAIT_POLICY")
        unsetenv("GOMP_SPINCOUNT")
        unsetenv(markerVariable)
    }

    /// The environment this process was started with by the user: without the policy we added.
    public static var userEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if environment.removeValue(forKey: markerVariable) != nil {
            environment.removeValue(forKey: "OMP_WAIT_POLICY")
            environment.removeValue(forKey: "GOMP_SPINCOUNT")
        }
        return environment
    }
}
