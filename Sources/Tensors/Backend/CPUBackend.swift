import CBLAS

/// The CPU backend: OpenBLAS for products, hand-written loops over unsafe buffers for the rest,
/// parallel over batch tiles with single-threaded BLAS inside each tile.
public struct CPUBackend: Backend {
    public init() {
        // Our kernels parallelise over tiles themselves; OpenBLAS must not start its own threads inside.
        openblas_set_num_threads(1)
    }

    public func matmul(_ a: Tensor, transposed ta: Bool, _ b: Tensor, transposed tb: Bool) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul needs 2-D tensors, got \(a.shape) and \(b.shape)")
        let m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1]
        let kb = tb ? b.shape[1] : b.shape[0], n = tb ? b.shape[0] : b.shape[1]
        precondition(k == kb, "matmul inner dimensions differ: \(a.shape)\(ta ? "ᵀ" : "") · \(b.shape)\(tb ? "ᵀ" : "")")
        return Tensor(shape: [m, n]) { c in
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                if k == 0 { c.update(repeating: 0); return }
                sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: pa.baseAddress!, lda: a.shape[1],
                      b: pb.baseAddress!, ldb: b.shape[1], beta: 0, c: c.baseAddress!, ldc: n)
            } }
        }
    }
}
