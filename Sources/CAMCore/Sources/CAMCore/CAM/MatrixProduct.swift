/// Matrix products of 2-D tensors on OpenBLAS, for plugins that do linear algebra of their
/// own (the NMF of deep feature factorization).
extension CAMMath {
    /// `op(a) · op(b)` for 2-D float32 tensors, where `op` transposes when asked.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        guard a.rank == 2, b.rank == 2, a.dtype == .float32, b.dtype == .float32 else {
            throw CAMError(.runtime, "matmul needs two 2-D float32 tensors, got \(a.shape) and \(b.shape)")
        }
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == k2 else { throw CAMError(.runtime, "matmul: inner dimensions differ (\(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : ""))") }
        let out = Tensor(zeros: [m, n])
        if m == 0 || n == 0 || k == 0 { return out }
        sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, a: a.floats.baseAddress!, lda: a.shape[1],
              b: b.floats.baseAddress!, ldb: b.shape[1], c: out.mutableFloats.baseAddress!, ldc: n)
        return out
    }
}
