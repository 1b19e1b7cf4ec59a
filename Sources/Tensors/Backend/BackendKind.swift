import Foundation

/// Which backend `Tensor.backend` is, chosen once per process by `ATALP_BACKEND`.
///
///     ATALP_BACKEND=reference atalp bench     # OpenBLAS im2col (the reference tests compare with)
///     ATALP_BACKEND=onednn atalp bench        # oneDNN convolutions
public enum BackendKind: String, CaseIterable, Sendable {
    /// `CPUBackend`: im2col + OpenBLAS SGEMM.
    case reference
    /// `DNNLBackend`: oneDNN primitives for convolutions, the reference for the rest.
    case onednn

    /// oneDNN: `atalp bench --network resnet20 --peer` measured it 2.8–3.6× the reference on every
    /// workload (README, "The engine and its speed"), and the whole suite passes on it. The reference
    /// stays selectable and is what the oneDNN tests compare against; `scripts/test.sh` reruns the
    /// gradient checks and the backend tests on it.
    public static let standard: BackendKind = .onednn

    /// `ATALP_BACKEND` if set, else `standard`; an unknown name stops the process with the choices.
    public static let current: BackendKind = {
        guard let name = ProcessInfo.processInfo.environment["ATALP_BACKEND"], !name.isEmpty else { return standard }
        guard let kind = BackendKind(rawValue: name.lowercased()) else {
            fatalError("ATALP_BACKEND=\(name) is not a backend: use \(allCases.map(\.rawValue).joined(separator: " or "))")
        }
        return kind
    }()

    public func make() -> any Backend {
        switch self {
        case .reference: return CPUBackend()
        case .onednn:
            let winograd = ProcessInfo.processInfo.environment["ATALP_WINOGRAD"].map { $0 == "1" }
            return DNNLBackend(options: DNNLBackend.Options(winograd: winograd ?? DNNLBackend.Options().winograd))
        }
    }
}
