import ArgumentParser
import Foundation
import Robustness
import Store
import Tensors

/// Adversarial images in a plain HDF5 file, for exchange with other tools (the conformance suite
/// hands torchattacks' sets to atalp and atalp's to PyTorch this way).
///
/// | path | type | shape | meaning |
/// |---|---|---|---|
/// | `images` | float32 | N×C×H×W or K×N×C×H×W | in [0, 1]; K sets of the same N examples |
/// | `white_box_images` | float32 | as `images` | optional: the white-box evidence (first successes) |
/// | `labels` | int32 or int64 | N | true labels |
///
/// An adversarial-set artifact of the store has this layout too, so `--adversarial` scores it.
enum AdversarialImages {
    /// Every set in the file (K of them; one for an N×C×H×W `images`).
    static func read(_ path: String) throws -> [LabeledImages] {
        try HDF5File.read(from: path) { r in
            guard r.contains("images"), r.contains("labels") else {
                throw ValidationError("\(path): needs datasets 'images' (float32 N×C×H×W or K×N×C×H×W) and 'labels'")
            }
            let shape = try r.shape(of: "images")
            let labels = try (try r.dtype(of: "labels")) == .int64 ? r.readInt64("labels").map(Int.init) : r.readInt32("labels").map(Int.init)
            guard shape.count == 4 || shape.count == 5, shape[shape.count - 4] == labels.count else {
                throw ValidationError("\(path): 'images' has shape \(shape); expected N×C×H×W or K×N×C×H×W with N = \(labels.count) labels")
            }
            let values = try r.readFloat32("images")
            guard values.allSatisfy({ $0 >= 0 && $0 <= 1 }) else { throw ValidationError("\(path): 'images' has values outside [0, 1]") }
            let all = Tensor(shape: shape, values: values)
            let sets = shape.count == 5 ? shape[0] : 1, inner = Array(shape.suffix(4))
            let flat = all.reshaped([sets * labels.count, all.count / max(sets * labels.count, 1)])
            return (0..<sets).map { k in
                LabeledImages(images: flat.rows(k * labels.count..<(k + 1) * labels.count).reshaped(inner), labels: labels)
            }
        }
    }

    static func write(to path: String, images: [Tensor], whiteBox: [Tensor]?, labels: [Int], attributes: [String: String]) throws {
        func stacked(_ t: [Tensor]) -> (Tensor, [Int]) {
            (Tensor.concatenatingRows(t), t.count == 1 ? t[0].shape : [t.count] + t[0].shape)
        }
        try HDF5File.write(to: path) { w in
            let (i, shape) = stacked(images)
            try i.withUnsafeBufferPointer { try w.write("images", float32: $0, shape: shape) }
            if let whiteBox {
                let (b, shape) = stacked(whiteBox)
                try b.withUnsafeBufferPointer { try w.write("white_box_images", float32: $0, shape: shape) }
            }
            try w.write("labels", int32: labels.map(Int32.init), shape: [labels.count])
            for (name, value) in attributes.sorted(by: { $0.key < $1.key }) { try w.setAttribute(name, .string(value)) }
        }
    }
}
