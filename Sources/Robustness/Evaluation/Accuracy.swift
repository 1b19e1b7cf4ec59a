import Autodiff
import NN
import Tensors

/// Top-1 accuracy of a model in evaluation mode on a data set, in batches (no gradients recorded).
public func evaluateAccuracy(_ model: any Classifier, on data: LabeledImages, batchSize: Int = 256) -> Float {
    Float(classifiedCorrectly(model, on: data, batchSize: batchSize).filter { $0 }.count) / Float(max(data.count, 1))
}

/// Per example, whether the model in evaluation mode predicts its label (one forward pass; batched).
public func classifiedCorrectly(_ model: any Classifier, on data: LabeledImages, batchSize: Int = 256) -> [Bool] {
    var correct: [Bool] = []
    correct.reserveCapacity(data.count)
    var start = 0
    while start < data.count {
        let end = min(start + batchSize, data.count)
        let tape = Tape()
        let logits = model(tape.input(data.images.rows(start..<end), requiresGradient: false), mode: .evaluation).logits.value
        correct += zip(logits.argmaxPerRow(), data.labels[start..<end]).map { $0 == $1 }
        start = end
    }
    return correct
}
