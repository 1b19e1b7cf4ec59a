import Cluster
import Tensors

/// Tensors in what ranks send one another (`Payload`): the shape, then the float32 values.
extension Payload {
    public mutating func append(tensor t: Tensor) {
        append(t.shape.count)
        for d in t.shape { append(d) }
        t.withUnsafeBufferPointer { append(floats: $0) }
    }

    public mutating func tensor() -> Tensor {
        let shape = (0..<int()).map { _ in int() }
        return Tensor(shape: shape, values: floats())
    }

    public mutating func append(ints: [Int]) {
        append(ints.count)
        for v in ints { append(v) }
    }

    public mutating func ints() -> [Int] { (0..<int()).map { _ in int() } }
}
