import CZlibSystem
import Foundation

/// Reading whole files into memory, with errors that name the file.
enum FileReading {
    /// Throws `.notFound` or `.unreadable` unless `path` names a regular file we can read.
    static func checkReadableFile(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(.notFound, path: path, "no such file")
        }
        guard !isDirectory.boolValue else { throw DataError(.unreadable, path: path, "is a folder, expected a file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw DataError(.unreadable, path: path, "permission denied")
        }
    }

    /// The bytes of `path`, as stored.
    static func readFile(_ path: String) throws -> [UInt8] {
        try checkReadableFile(path)
        guard let file = fopen(path, "rb") else {
            throw DataError(.unreadable, path: path, String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count {
                if ferror(file) != 0 { throw DataError(.unreadable, path: path, "read error") }
                break
            }
        }
        return bytes
    }

    /// The bytes of `path`, decompressed if it is gzipped (zlib reads plain files unchanged).
    /// A truncated or corrupt gzip stream throws `.corrupt` naming the file.
    static func readPossiblyGzipped(_ path: String) throws -> [UInt8] {
        try checkReadableFile(path)
        guard let gz = gzopen(path, "rb") else {
            throw DataError(.unreadable, path: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { gzclose_r(gz) }
        _ = gzbuffer(gz, 1 << 18)
        var bytes: [UInt8] = []
        let chunkSize = 1 << 20
        while true {
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: chunkSize))
            let n = bytes.withUnsafeMutableBytes { buffer in
                gzread(gz, buffer.baseAddress! + start, UInt32(chunkSize))
            }
            if n < 0 {
                var code: Int32 = 0
                let message = String(cString: gzerror(gz, &code))
                throw DataError(.corrupt, path: path, "gzip data is corrupt (\(message))")
            }
            bytes.removeLast(chunkSize - Int(n))
            if Int(n) < chunkSize { break }
        }
        // A gzip stream cut short reads as a short stream; zlib records the error for gzerror.
        var code: Int32 = 0
        let message = String(cString: gzerror(gz, &code))
        if code != Z_OK {
            throw DataError(.corrupt, path: path, "gzip data is truncated or corrupt (\(message))")
        }
        return bytes
    }
}
