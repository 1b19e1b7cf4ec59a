import Foundation
import XCTest
@testable import Store

final class ContentHashTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws { dir = try TestDirectory.make("hash") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func put(_ store: ArtifactStore, compression: HDF5Compression = .none, weight: Float = 1, attribute: String = "a",
             kind: String = "checkpoint") throws -> ArtifactID {
        try store.put(ArtifactMetadata(kind: kind, parameters: ["lr": 0.1]), compression: compression) { a in
            try a.write("layer1.0.conv1.weight", float32: [weight, 2, 3, 4], shape: [2, 2])
            try a.write("stats/count", int64: [5], shape: [])
            try a.setAttribute("note", .string(attribute), on: "stats")
        }
    }

    func testIdFromWritingEqualsIdRecomputedFromTheFile() throws {
        let store = try ArtifactStore(root: "\(dir!)/s")
        let id = try put(store)
        let recomputed = try HDF5File.read(from: store.path(of: id)) { try ContentHash.read(from: $0).id }
        XCTAssertEqual(recomputed, id)
    }

    func testIdIgnoresLayoutButSeesEveryByteAndAttribute() throws {
        let a = try ArtifactStore(root: "\(dir!)/a"), b = try ArtifactStore(root: "\(dir!)/b")
        let plain = try put(a)
        XCTAssertEqual(try put(b, compression: .deflate(level: 6)), plain, "compression changes bytes, not the id")
        let ids = [plain, try put(a, weight: 1.5), try put(a, attribute: "b"), try put(a, kind: "dataset")]
        XCTAssertEqual(Set(ids).count, 4, "data, a dataset attribute and the metadata each change the id")
    }

    /// Golden values: if these change, every stored id and key changes. Bump the schema version then.
    func testEncodingsAreStable() throws {
        let spec = StageSpec(stage: "train", implementationVersion: 2,
                             parameters: ["lr": 0.1, "epochs": 3, "defense": "at+alp", "groups": [0, 1, 2, 3], "detach": true],
                             inputs: ["data": ArtifactID(String(repeating: "ab", count: 32))!])
        XCTAssertEqual(spec.parameters.canonicalJSON, #"{"defense":"at+alp","detach":true,"epochs":3,"groups":[0,1,2,3],"lr":0.1}"#)
        XCTAssertEqual(ParameterValue.double(1).canonicalJSON, "1.0")
        XCTAssertNotEqual(try StageSpec(stage: "s", implementationVersion: 1, parameters: ["x": 1]).key(),
                          try StageSpec(stage: "s", implementationVersion: 1, parameters: ["x": 1.0]).key())
        // Python: sha256(("atalp-stage-key\n1\ntrain\n2\n" + json + "\n" + "data=" + "ab" * 32 + "\n").encode())
        XCTAssertEqual(try spec.key().hex, "a263861384f03d7d08cb59b4c0374dfe1a4c6cb2328485a55ad4e08eca31a67b")
        XCTAssertThrowsError(try StageSpec(stage: "a=b", implementationVersion: 1).key())
    }
}
