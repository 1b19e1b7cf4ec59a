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

    /// The default while `DNNLBackend` converts layouts at every convolution: measured, it is not yet
    /// faster on every workload (README, "The engine and its speed").
    public static let standard: BackendKind = .reference

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
