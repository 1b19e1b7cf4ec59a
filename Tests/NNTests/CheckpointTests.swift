import XCTest
import Autodiff
import NN
import Store
import Tensors

final class CheckpointTests: XCTestCase {
    func testSaveThenLoadGivesBitIdenticalLogits() throws {
        var rng = SeededRandom(seed: 8)
        let model = ResNet(.resnet20(), rng: &rng)
        // Train a few steps so that batch-norm statistics and momentum buffers are not at their initial values.
        let optimizer = SGD(parameters: model.parameters, momentum: 0.9, weightDecay: 5e-4)
        let x = Tensor.uniform(shape: [8, 1, 28, 28], using: &rng)
        for _ in 0..<2 {
            let tape = Tape(recordsParameterGradients: true)
            tape.backward(from: softmaxCrossEntropy(model(tape.input(x, requiresGradient: false), mode: .training).logits,
                                                    labels: [0, 1, 2, 3, 4, 5, 6, 7]))
            optimizer.step(learningRate: 0.1)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atalp-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.h5").path
        try Checkpoint.save(model, optimizer: optimizer, architecture: "resnet20", metadata: ["seed": .int(8)], to: path)

        var other = SeededRandom(seed: 99)
        let restored = ResNet(.resnet20(), rng: &other)
        let restoredOptimizer = SGD(parameters: restored.parameters, momentum: 0.9, weightDecay: 5e-4)
        let attributes = try Checkpoint.load(into: restored, optimizer: restoredOptimizer, from: path)
        XCTAssertEqual(attributes["seed"], .int(8))
        XCTAssertEqual(attributes["kind"], .string("checkpoint"))
        func logits(_ m: ResNet) -> Tensor {
            let tape = Tape()
            return m(tape.input(x, requiresGradient: false), mode: .evaluation).logits.value
        }
        XCTAssertEqual(logits(restored), logits(model))  // exact, bit for bit
        XCTAssertEqual(restoredOptimizer.state.keys.sorted(), optimizer.state.keys.sorted())
        for (k, v) in optimizer.state { XCTAssertEqual(restoredOptimizer.state[k], v) }

        // PyTorch's names and shapes, readable without atalp's model code.
        try HDF5File.read(from: path) { r in
            XCTAssertEqual(try r.shape(of: "layer1.0.conv1.weight"), [16, 16, 3, 3])
            XCTAssertEqual(try r.shape(of: "fc.weight"), [10, 64])
            XCTAssertEqual(try r.dtype(of: "bn1.num_batches_tracked"), .int64)
            XCTAssertEqual(try r.readInt64("bn1.num_batches_tracked"), [2])
            XCTAssertTrue(r.contains("optimizer/fc.weight.momentum_buffer"))
        }
    }

    /// The layout promise is that tools other than atalp read checkpoints: h5dump (from hdf5-tools,
    /// which the setup script installs) lists the tensors under their PyTorch names.
    func testH5dumpReadsACheckpoint() throws {
        guard let h5dump = ["/usr/bin/h5dump", "/usr/local/bin/h5dump"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("h5dump is not installed (apt-get install hdf5-tools)")
        }
        var rng = SeededRandom(seed: 2)
        let model = ResNet(.resnet20(), rng: &rng)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("atalp-ckpt-\(UUID().uuidString).h5").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model, to: path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: h5dump)
        process.arguments = ["-H", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(output.contains("DATASET \"layer3.2.conv2.weight\""), output)
        XCTAssertTrue(output.contains("DATASPACE  SIMPLE { ( 64, 64, 3, 3 ) / ( 64, 64, 3, 3 ) }"), output)
    }

    func testLoadingAMismatchedCheckpointNamesTheFileAndTensor() throws {
        var rng = SeededRandom(seed: 1)
        let small = ResNet(.resnet20(), rng: &rng)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("atalp-ckpt-\(UUID().uuidString).h5").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(small, to: path)
        let wider = ResNet(.cifar(depth: 20, widths: [16, 32, 128], inputChannels: 1, classes: 10), rng: &rng)
        XCTAssertThrowsError(try Checkpoint.load(into: wider, from: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path) && text.contains("layer3.0.conv1.weight"), text)
        }
    }
}
