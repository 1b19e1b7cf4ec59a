import XCTest
import Autodiff
import NN
import Tensors

/// Gradients through whole networks and through the losses of the method.
final class ModelGradientTests: XCTestCase {
    /// A ResNet small enough to finite-difference: widths 4/8, one block per group, 8×8 input.
    func tinyResNet(seed: UInt64 = 3) -> ResNet {
        var rng = SeededRandom(seed: seed)
        let config = ResNetConfiguration(family: .smallImage, block: .basic, blocksPerGroup: [1, 1], widths: [4, 8],
                                         inputChannels: 1, classes: 3)
        return ResNet(config, rng: &rng)
    }

    func testInputGradientThroughResNetMatchesDirectionalDerivative() {
        let model = tinyResNet()
        var rng = SeededRandom(seed: 11)
        let x = Tensor.uniform(shape: [2, 1, 8, 8], using: &rng)
        let labels = [0, 2]
        func loss(_ t: Tensor) -> (Double, Tensor?) {
            let tape = Tape()
            let v = tape.input(t, requiresGradient: true)
            let l = softmaxCrossEntropy(model(v, mode: .evaluation).logits, labels: labels, reduction: .sum)
            tape.backward(from: l)
            return (Double(l.value.scalar), v.gradient)
        }
        let (_, g) = loss(x)
        // Directional derivatives along a few random directions: d/dh L(x + h·v) = ⟨∇L, v⟩.
        for _ in 0..<4 {
            let v = Tensor.normal(shape: x.shape, using: &rng)
            let h: Float = 1e-3
            let numeric = (loss(x + v * h).0 - loss(x - v * h).0) / Double(2 * h)
            let analytic = Double((g! * v).sum())
            XCTAssertEqual(analytic, numeric, accuracy: 2e-2 * max(1, abs(numeric)))
        }
    }

    func testInputGradientLeavesParametersUntouched() {
        let model = tinyResNet()
        let tape = Tape()  // parameters enter as constants
        var rng = SeededRandom(seed: 2)
        let x = tape.input(Tensor.uniform(shape: [2, 1, 8, 8], using: &rng), requiresGradient: true)
        tape.backward(from: softmaxCrossEntropy(model(x, mode: .evaluation).logits, labels: [1, 0]))
        XCTAssertNotNil(x.gradient)
        XCTAssertTrue(model.parameters.allSatisfy { $0.gradient == nil }, "an input gradient must not compute parameter gradients")
    }

    func testParameterGradientsThroughResNetInTrainingMode() {
        let model = tinyResNet()
        var rng = SeededRandom(seed: 5)
        let x = Tensor.uniform(shape: [3, 1, 8, 8], using: &rng)
        let labels = [0, 1, 2]
        func loss() -> Double {
            let tape = Tape()
            return Double(softmaxCrossEntropy(model(tape.input(x, requiresGradient: false), mode: .training).logits, labels: labels).value.scalar)
        }
        let tape = Tape(recordsParameterGradients: true)
        tape.backward(from: softmaxCrossEntropy(model(tape.input(x, requiresGradient: false), mode: .training).logits, labels: labels))
        for p in model.parameters where p.name.hasSuffix("conv1.weight") || p.name == "fc.bias" || p.name == "layer2.0.bn2.weight" {
            let g = p.gradient!
            for i in stride(from: 0, to: p.value.count, by: max(1, p.value.count / 5)) {
                let original = p.value
                let h: Float = 1e-2
                p.value.withUnsafeMutableBufferPointer { $0[i] += h }
                let up = loss()
                p.value = original
                p.value.withUnsafeMutableBufferPointer { $0[i] -= h }
                let down = loss()
                p.value = original
                let numeric = (up - down) / Double(2 * h)
                XCTAssertEqual(Double(g.scalars[i]), numeric, accuracy: 2e-2 * max(1, abs(numeric)), "\(p.name)[\(i)]")
            }
        }
    }

    func testAttentionAndLogitPairingGradients() {
        var rng = SeededRandom(seed: 9)
        let a = Tensor.normal(shape: [2, 3, 4, 4], using: &rng), b = Tensor.normal(shape: [2, 3, 4, 4], using: &rng)
        checkGradients([a, b], epsilon: 1e-3, samples: 40) {
            attentionPairingLoss(clean: [$0[0]], adversarial: [$0[1]])
        }
        let c = Tensor.normal(shape: [2, 5, 2, 2], using: &rng), d = Tensor.normal(shape: [2, 5, 2, 2], using: &rng)
        checkGradients([a, b, c, d], epsilon: 1e-3, samples: 24) {
            attentionPairingLoss(clean: [$0[0], $0[2]], adversarial: [$0[1], $0[3]])
        }
        checkGradients([Tensor.normal(shape: [3, 4], using: &rng), Tensor.normal(shape: [3, 4], using: &rng)]) {
            logitPairingLoss(clean: $0[0], adversarial: $0[1])
        }
    }

    func testPairingLossesVanishForEqualInputs() {
        var rng = SeededRandom(seed: 4)
        let tape = Tape()
        let a = tape.input(Tensor.normal(shape: [2, 3, 4, 4], using: &rng), requiresGradient: true)
        let z = tape.input(Tensor.normal(shape: [2, 10], using: &rng), requiresGradient: true)
        XCTAssertEqual(attentionPairingLoss(clean: [a], adversarial: [a]).value.scalar, 0)
        XCTAssertEqual(logitPairingLoss(clean: z, adversarial: z).value.scalar, 0)
    }

    func testAttentionMapMatchesHandComputedValues() {
        // Two channels, 1×2 map: F = mean_c A² = [(1+9)/2, (4+0)/2] = [5, 2].
        let tape = Tape()
        let a = tape.input(Tensor(shape: [1, 2, 1, 2], values: [1, 2, 3, 0]), requiresGradient: false)
        XCTAssertEqual(attentionMap(a).value.scalars, [5, 2])
    }
}
