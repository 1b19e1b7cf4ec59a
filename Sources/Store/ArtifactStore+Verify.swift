/// The result of `verify`: artifacts whose content still matches their id, and those that do not.
public struct VerifyReport: Sendable {
    public var intact: [ArtifactID] = []
    public var corrupt: [(id: ArtifactID, reason: String)] = []
    /// Artifacts that could not be checked now (I/O error, another process's lock): not damaged, not moved.
    public var unavailable: [(id: ArtifactID, reason: String)] = []
}

extension ArtifactStore {
    /// Rehashes every artifact's logical content (reading every dataset). An artifact whose content no
    /// longer hashes to its id, or that HDF5 cannot read, is moved to quarantine/ and reported; run
    /// records that name it then report it missing, so the stage that made it runs again.
    public func verify(_ ids: [ArtifactID]? = nil, progress: ((ArtifactID, ArtifactState) -> Void)? = nil) throws -> VerifyReport {
        var report = VerifyReport()
        for id in try ids ?? allObjectIDs() {
            let state = deepCheck(id)
            progress?(id, state)
            switch state {
            case .present: report.intact.append(id)
            case .missing: report.corrupt.append((id, "missing"))
            case .corrupt(let reason): report.corrupt.append((id, reason))
            case .unavailable(let reason): report.unavailable.append((id, reason))
            }
        }
        return report
    }
}
