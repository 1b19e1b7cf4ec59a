import XCTest
@testable import Autodiff
@testable import Tensors

/// The tape keeps a value only while a pullback needs it (what bounds a training step's peak memory).
final class TapeMemoryTests: XCTestCase {
    var rng = SeededRandom(seed: 3)

    func randn(_ shape: [Int]) -> Tensor { Tensor.normal(shape: shape, using: &rng) }

    /// A sum feeding a ReLU: no backward formula needs the sum's value (add passes dy through; ReLU
    /// masks by its own output), so it is freed as soon as the caller drops it.
    func testValueNoPullbackNeedsIsFreedAfterTheForwardPass() {
        let tape = Tape()
        let a = tape.input(randn([4, 5]), requiresGradient: true)
        let b = tape.input(randn([4, 5]), requiresGradient: true)
        weak var sumStorage: TensorStorage?
        var loss: Variable?
        do {
            let h = a * b + b
            sumStorage = h.value.storage
            loss = sum(relu(h))
        }
        XCTAssertNil(sumStorage, "the tape kept a value that no pullback needs")
        tape.backward(from: loss!)
        // The gradients are unchanged by what was freed: d/da Σ relu(a·b + b) = b where a·b + b > 0.
        let h = a.value * b.value + b.value
        let expected = b.value.zipMap(h) { bv, hv in hv > 0 ? bv : 0 }
        XCTAssertEqual(a.gradient?.scalars, expected.scalars)
    }

    /// A convolution's input is needed for its weight gradient: kept through the forward pass, freed
    /// once the backward walk has passed the convolution.
    func testSavedValueIsFreedByTheBackwardWalk() {
        let tape = Tape(recordsParameterGradients: true)
        let x = tape.input(randn([2, 3, 6, 6]), requiresGradient: true)
        let weight = Parameter(randn([4, 3, 3, 3]))
        weak var inputStorage: TensorStorage?
        var loss: Variable?
        do {
            let h = x * 2  // an intermediate the convolution saves
            inputStorage = h.value.storage
            loss = mean(conv2d(h, weight: tape.variable(for: weight), geometry: Conv2DGeometry(kernel: 3, padding: 1)))
        }
        XCTAssertNotNil(inputStorage, "the convolution's saved input was freed before its backward pass")
        tape.backward(from: loss!)
        XCTAssertNil(inputStorage, "the convolution's saved input outlived the backward pass")
        XCTAssertNotNil(weight.gradient)
        XCTAssertNotNil(x.gradient)
    }
}
