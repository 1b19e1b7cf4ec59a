import Foundation
@testable import Store
import XCTest

/// `atalp store export --format npz`: an artifact's datasets as NumPy arrays, read back by NumPy
/// itself (skipped where python3 with numpy is not installed) and laid out as NumPy's format says.
final class NPZTests: XCTestCase {
    func testNumPyReadsEveryDatasetWithItsDtypeAndShape() throws {
        let dir = try TestDirectory.make("npz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = "\(dir)/set.h5", npz = "\(dir)/set.npz"
        try HDF5File.write(to: source) { w in
            try w.write("images", float32: (0..<24).map { Float($0) / 24 }, shape: [2, 1, 1, 3, 4])
            try w.write("labels", int32: [7], shape: [1])
            try w.write("iterations", int64: [1, 10], shape: [2])
            try w.write("group/mask", uint8: [0, 255], shape: [2])
        }
        try NPZ.write(hdf5: source, to: npz)
        // The header of one array, byte for byte: the data starts at a multiple of 64.
        let labels = NPZ.npy(dtype: .int32, shape: [1], bytes: [7, 0, 0, 0])
        XCTAssertEqual(labels.count, 128 + 4, "magic, version and length (10) + 58-byte dict + padding + newline = 128")
        XCTAssertEqual(labels[127], 0x0A)
        XCTAssertEqual(String(decoding: labels[10..<127], as: UTF8.self).trimmingCharacters(in: .whitespaces),
                       "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import numpy as np, sys
            z = np.load(sys.argv[1])
            for k in sorted(z.files): print(k, z[k].dtype, z[k].shape, z[k].ravel()[-1])
            """, npz]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if output.contains("No module named") { throw XCTSkip("python3 with numpy is not installed") }
        XCTAssertEqual(output, """
            group/mask uint8 (2,) 255
            images float32 (2, 1, 1, 3, 4) 0.9583333
            iterations int64 (2,) 10
            labels int32 (1,) 7

            """)
    }
}
