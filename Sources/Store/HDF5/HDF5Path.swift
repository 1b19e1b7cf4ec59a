/// Object paths inside an HDF5 file as atalp uses them: "/"-separated, no leading "/", no empty,
/// "." or ".." components. Dots inside a name are fine ("layer1.0.conv1.weight").
enum HDF5Path {
    /// The components of `path`, or nil for the root ("/" or ""). Throws on malformed paths.
    static func components(_ path: String, check: HDF5Check) throws -> [Substring] {
        var trimmed = Substring(path)
        while trimmed.first == "/" { trimmed = trimmed.dropFirst() }
        if trimmed.isEmpty { return [] }
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        for part in parts where part.isEmpty || part == "." || part == ".." {
            throw check.fail("invalid object path '\(path)' (empty, '.' or '..' component)")
        }
        if path.utf8.contains(0) { throw check.fail("invalid object path (contains NUL)") }
        return parts
    }

    /// The canonical form of `path`: components joined by "/", "/" for the root.
    static func normalized(_ path: String, check: HDF5Check) throws -> String {
        let parts = try components(path, check: check)
        return parts.isEmpty ? "/" : parts.joined(separator: "/")
    }
}
