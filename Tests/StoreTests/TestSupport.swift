import Foundation

enum TestDirectory {
    /// A fresh, empty directory under the system temp directory.
    static func make(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "atalp-store-tests-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
