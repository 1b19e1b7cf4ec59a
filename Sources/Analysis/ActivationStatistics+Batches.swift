import NN
import Robustness
import Tensors

/// `ActivationStatistics` one batch at a time: what each batch contributes (`Batch`) depends only on
/// the batch's images and where it starts, so batches can be computed apart — on the ranks of an MPI
/// job — and assembled in order into exactly the statistics one pass over all images gives.
extension ActivationStatistics {
    /// One batch's attention maps, predictions and kept activations.
    public struct Batch: Sendable {
        /// Per group, n×H_j×W_j: F(A_j) of the batch's n images.
        public var attention: [Tensor]
        public var predictions: [Int]
        /// Per group, the raw outputs of the subset's images in this batch (ascending index order);
        /// empty when none were kept.
        public var kept: [Tensor]

        public init(attention: [Tensor], predictions: [Int], kept: [Tensor]) {
            self.attention = attention; self.predictions = predictions; self.kept = kept
        }
    }

    /// Runs `model` in evaluation mode, without gradients, on `images` (n×C×H×W): images
    /// `first ..< first + n` of the analysed set, so that `subset` (indices into the whole set) picks
    /// the activations to keep.
    public static func batch(_ model: any Classifier, images: Tensor, first: Int, subset: [Int], keepActivations: Bool,
                             exponent: Float) -> Batch {
        let out = evaluate(model, images)
        let rows = first..<first + images.shape[0]
        let local = keepActivations ? Set(subset.filter { rows.contains($0) }).sorted().map { $0 - first } : []
        return Batch(attention: out.groups.map { attention(of: $0.value, exponent: exponent) },
                     predictions: out.logits.value.argmaxPerRow(),
                     kept: local.isEmpty ? [] : out.groups.map { $0.value.gatherRows(local) })
    }

    /// The statistics of `data` from its batches in order (`batch` of consecutive ranges covering it).
    public init(assembling batches: [Batch], data: LabeledImages, source: ActivationSource, masks: [UInt8]?, subset: [Int],
                keepActivations: Bool, exponent: Float) {
        let n = data.count, (_, _, h, w) = data.images.nchw
        precondition(!batches.isEmpty && batches.map(\.predictions.count).reduce(0, +) == n, "the batches do not cover the \(n) images")
        if let masks { precondition(masks.count == n * h * w, "masks: \(masks.count) values for \(n) images of \(h)×\(w)") }
        precondition(subset.allSatisfy { (0..<n).contains($0) }, "subset index out of range")
        let groups = batches[0].attention.count
        let attention = (0..<groups).map { j in Tensor.concatenatingRows(batches.map { $0.attention[j] }) }
        // Kept activations arrive batch by batch in ascending index order, once per index; reorder to
        // `subset`'s order (which may be unsorted or repeat an index).
        var activations: [Tensor]? = nil
        if keepActivations && !subset.isEmpty {
            let kept = batches.filter { !$0.kept.isEmpty }
            let ascending = Array(Set(subset)).sorted()
            let order = subset.map { ascending.firstIndex(of: $0)! }
            activations = (0..<groups).map { j in Tensor.concatenatingRows(kept.map { $0.kept[j] }).gatherRows(order) }
        }
        let groupMasks = masks.map { m in attention.map { Self.resizeMask(m, count: n, height: h, width: w, to: ($0.shape[1], $0.shape[2])) } }
        self.init(source: source, attention: attention, groupMasks: groupMasks, masks: masks, labels: data.labels,
                  predictions: batches.flatMap(\.predictions), subsetIndices: subset,
                  subsetImages: subset.isEmpty ? nil : data.images.gatherRows(subset),
                  subsetActivations: activations, exponent: exponent, inputHeight: h, inputWidth: w)
    }
}
