import XCTest
import Autodiff
import NN
import Tensors

/// Batch norm folded into the convolution before it in evaluation (`BatchNorm2d.folding`): the same
/// logits and input gradients as the unfolded layers, and refolded whenever what it folds changes.
final class FoldedBatchNormTests: XCTestCase {
    /// A ResNet-20 with non-trivial batch-norm state: a few training-mode passes move the running
    /// statistics away from (0, 1), and γ, β are perturbed.
    func trainedModel() -> (ResNet, Tensor, [Int]) {
        var rng = SeededRandom(seed: 11)
        let model = ResNet(.resnet20(inputChannels: 1, classes: 10), rng: &rng)
        let x = Tensor.uniform(shape: [8, 1, 28, 28], using: &rng)
        for _ in 0..<3 { let tape = Tape(); _ = model(tape.constant(x), mode: .training) }
        for p in model.parameters where p.name.contains("bn") {
            p.value = p.value + Tensor.normal(shape: p.value.shape, std: 0.1, using: &rng)
        }
        return (model, x, (0..<8).map { $0 % 10 })
    }

    /// Logits and ∂loss/∂x by the folded path (a tape without parameter gradients) and the unfolded
    /// one (a tape recording them, which never folds).
    func logitsAndInputGradient(_ model: ResNet, _ x: Tensor, _ labels: [Int], folded: Bool) -> (Tensor, Tensor) {
        let tape = Tape(recordsParameterGradients: !folded)
        let input = tape.input(x, requiresGradient: true)
        let logits = model(input, mode: .evaluation).logits
        tape.backward(from: softmaxCrossEntropy(logits, labels: labels))
        model.zeroGradients()
        return (logits.value, input.gradient!)
    }

    /// ‖a − b‖ / ‖b‖ ≤ tolerance. Measured on this model: 4–9e-7 for logits and, with direct kernels,
    /// for input gradients. oneDNN's Winograd kernels (the default) compute input gradients through the
    /// 19 layers to 0.3 % of the reference backend's unfolded or 0.65 % folded (their per-layer error,
    /// ~1e-6, compounds backward): the bound for gradients is 2e-2 under Winograd, 1e-5 otherwise.
    func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, tolerance: Double = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        var difference = 0.0, norm = 0.0
        for (u, v) in zip(a.scalars, b.scalars) { difference += Double(u - v) * Double(u - v); norm += Double(v) * Double(v) }
        let relative = (difference / max(norm, 1e-30)).squareRoot()
        XCTAssertLessThanOrEqual(relative, tolerance, "\(what): ‖Δ‖/‖unfolded‖ = \(relative)", file: file, line: line)
    }

    var gradientTolerance: Double { ((Tensor.backend as? DNNLBackend)?.options.winograd ?? false) ? 2e-2 : 1e-5 }

    func testFoldedEvaluationMatchesTheUnfoldedLayers() {
        let (model, x, labels) = trainedModel()
        let folded = logitsAndInputGradient(model, x, labels, folded: true)
        let unfolded = logitsAndInputGradient(model, x, labels, folded: false)
        assertClose(folded.0, unfolded.0, "logits")
        assertClose(folded.1, unfolded.1, "input gradient", tolerance: gradientTolerance)
        XCTAssertNotEqual(folded.0.scalars, unfolded.0.scalars, "no rounding difference at all: is the folded path taken?")
    }

    /// The folded weights are kept between calls; a change of the running statistics (training mode),
    /// of γ or of a weight written in place (as SGD does) must refold them.
    func testFoldIsRedoneWhenWhatItFoldsChanges() {
        let (model, x, labels) = trainedModel()
        let before = logitsAndInputGradient(model, x, labels, folded: true).0
        var rng = SeededRandom(seed: 5)
        let tape = Tape()
        _ = model(tape.constant(Tensor.uniform(shape: [8, 1, 28, 28], using: &rng)), mode: .training)
        let afterStatistics = logitsAndInputGradient(model, x, labels, folded: true).0
        XCTAssertNotEqual(before.scalars, afterStatistics.scalars)
        assertClose(afterStatistics, logitsAndInputGradient(model, x, labels, folded: false).0, "after new running statistics")

        let conv = model.parameters.first { $0.name.hasSuffix("conv1.weight") && $0.name.contains("layer") }!
        conv.value.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= 1.5 } }
        let afterWeight = logitsAndInputGradient(model, x, labels, folded: true).0
        XCTAssertNotEqual(afterStatistics.scalars, afterWeight.scalars)
        assertClose(afterWeight, logitsAndInputGradient(model, x, labels, folded: false).0, "after a weight written in place")
    }
}
