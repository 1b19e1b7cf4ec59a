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
/// primitives — spinning workers burn the time slices the working ones need. Idle, passive costs a
/// futex wake per region (microseconds; a step has a few hundred regions). So the CLI restarts itself
/// once with `OMP_WAIT_POLICY=passive` when the OpenMP pool is in use and the user has not chosen a policy.
public enum OpenMPWaitPolicy {
    /// Set in the restarted process, so that child processes (e.g. the bench's PyTorch peer) can be
    /// given the user's own environment back.
    public static let markerVariable = "ATALP_SET_OMP_WAIT_POLICY"

    /// Replaces the process with itself under `OMP_WAIT_POLICY=passive` when needed; returns when not
    /// (or when `execv` fails, in which case the process goes on with libgomp's default).
    public static func restartPassiveIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard Parallel.pool == .openmp, environment["OMP_WAIT_POLICY"] == nil else { return }
        setenv("OMP_WAIT_POLICY", "passive", 1)
        setenv(markerVariable, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OMP_WAIT_POLICY")
        unsetenv(markerVariable)
    }

    /// The environment this process was started with by the user: without the policy we added.
    public static var userEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if environment.removeValue(forKey: markerVariable) != nil { environment.removeValue(forKey: "OMP_WAIT_POLICY") }
        return environment
    }
}
