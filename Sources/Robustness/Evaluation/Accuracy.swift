import Autodiff
import NN
import Tensors

/// Top-1 accuracy of a model in evaluation mode on a data set, in batches (no gradients recorded).
public func evaluateAccuracy(_ model: any Classifier, on data: LabeledImages, batchSize: Int = 256) -> Float {
    var correct = 0
    var start = 0
    while start < data.count {
        let end = min(start + batchSize, data.count)
        let tape = Tape()
        let logits = model(tape.input(data.images.rows(start..<end), requiresGradient: false), mode: .evaluation).logits.value
        correct += zip(logits.argmaxPerRow(), data.labels[start..<end]).filter { $0 == $1 }.count
        start = end
    }
    return Float(correct) / Float(max(data.count, 1))
}
