import Foundation
import XCTest
@testable import Pipeline
import NN
import Robustness
import Store
import Tensors

/// A model trained elsewhere: the weights of a pipeline checkpoint saved as a PyTorch state dict —
/// `.safetensors` and HDF5 with PyTorch's names, as `safetensors.torch.save_file` and h5py write them —
/// evaluate with `atalp evaluate --architecture … [--defense …]` to exactly the numbers of the atalp
/// checkpoint itself (clean accuracy and PGD), a randomised RAT model included.
final class StateDictEvaluationTests: XCTestCase {
    static let pipeline = """
        name: state-dicts
        data: {source: fashion-mnist, train_examples: 64, test_examples: 16}
        training: {epochs: 1, batch_size: 16, learning_rate: 0.05}
        defense: {attack: {epsilon: 0.1, step_size: 0.05, iterations: 1}, eot_samples: 2, inference_draws: 3}
        models:
          - {name: plain, architecture: resnet8, defense: {kind: none}}
          - {name: rat, architecture: resnet8, defense: {kind: rat, noise_scale: 0.1}}

        """

    func atalp(_ arguments: [String]) throws -> String { try runAtalp(arguments) }

    func testStateDictsEvaluateAsTheCheckpoint() throws {
        try XCTSkipUnless(fashionMNISTAvailable(), "needs Debian's dataset-fashion-mnist")
        let dir = TemporaryDirectory()
        let store = try ArtifactStore(root: "\(dir.path)/store")
        let states = try PipelineRunner(definition: try PipelineDefinition.load(dir.write("p.yaml", Self.pipeline)), store: store,
                                        progress: ProgressDisplay(quiet: true)).run()
        let evaluate = ["--json", "--attack", "pgd", "--epsilon", "0.1", "--iterations", "1", "2", "--step-size", "0.05",
                        "--test-limit", "16", "--batch-size", "16", "--seed", "0"]
        for (name, defense) in [("plain", [String]()), ("rat", ["--defense", "rat", "--set", "noise_scale=0.1", "--set", "eot_samples=2",
                                                                "--set", "inference_draws=3"])] {
            let id = try XCTUnwrap(states.first { $0.node == "train:\(name)" }?.outputs["model"])
            let checkpoint = store.path(of: id)
            let model = try ModelCheckpoint.load(checkpoint).model
            var tensors: [String: Tensor] = [:]
            for p in model.parameters { tensors[p.name] = p.value }
            for b in model.buffers { tensors[b.name] = b.value }
            let safetensors = "\(dir.path)/\(name).safetensors", hdf5 = "\(dir.path)/\(name)-torch.h5"
            try SafeTensors.write(tensors, to: safetensors)
            try HDF5File.write(to: hdf5) { w in
                for (k, t) in tensors {
                    if k.hasSuffix("num_batches_tracked") { try w.write(k, int64: [Int64(t.scalar)], shape: []) }
                    else { try w.write(k, float32: t.scalars, shape: t.shape) }
                }
            }
            let reference = try atalp(["evaluate", checkpoint] + evaluate)
            XCTAssertTrue(reference.contains("\"clean_accuracy\""), reference)
            for file in [safetensors, hdf5] {
                XCTAssertEqual(try atalp(["evaluate", file, "--architecture", "resnet8"] + defense + evaluate), reference, "\(name): \(file)")
            }
        }
        // What a state dict cannot say must be given; what does not fit is named.
        XCTAssertTrue(try atalp(["evaluate", "\(dir.path)/plain.safetensors"]).contains("needs --architecture"))
        XCTAssertTrue(try atalp(["evaluate", "\(dir.path)/plain.safetensors", "--architecture", "resnet20", "--test-limit", "4"])
            .contains("no tensor 'layer1.1.conv1.weight': another architecture?"))
    }
}
