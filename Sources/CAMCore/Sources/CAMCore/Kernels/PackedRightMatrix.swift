import Foundation
internal import CKernels

/// A matrix packed once as the right operand of `ck_gemm_packed_b` (AVX-512, `gemm_packed.c`):
/// a transformer's projection weights W in `X · W`, multiplied by activations X read in place.
/// Neither operand is copied per call, where BLAS copies both.
struct PackedRightMatrix: @unchecked Sendable {
    let storage: Tensor
    let rows: Int, columns: Int

    /// Packs the (rows × columns) matrix `b` (row pitch `ldb`).
    init(packing b: UnsafePointer<Float>, ldb: Int, rows: Int, columns: Int) {
        storage = Tensor(uninitialized: [ck_gemm_packed_b_size(Int32(rows), Int32(columns))])
        ck_gemm_pack_b(b, ldb, Int32(rows), Int32(columns), storage.mutableFloats.baseAddress!)
        (self.rows, self.columns) = (rows, columns)
    }

    /// C = X · B, or C + X · B with `accumulate`, for X (m × rows, pitch `lda`) and C
    /// (m × columns, pitch `ldc`), the rows of X shared among the runtime's threads (blocks of
    /// columns measured slower: each thread then reads all of X). Without `accumulate`, the
    /// sums start from `residual` (laid out as C) + `bias` (one per column) where given:
    /// C = (R + bias) + X · B. With `gelu`, C is replaced by its GELU, block by block as each
    /// is finished.
    func multiply(_ x: UnsafePointer<Float>, lda: Int, m: Int, into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                  bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil, gelu: Bool = false) {
        let threads = Runtime.threadCount
        let split = threads > 1 && m * rows * columns >= 1 << 20
        let blocks = split ? Swift.min(threads, (m + 7) / 8) : 1
        let per = ((m + blocks - 1) / blocks + 7) / 8 * 8
        parallelEach((m + per - 1) / per) { t in
            let first = t * per
            let status = ck_gemm_packed_b(x, lda, Int32(first), Int32(Swift.min(per, m - first)), 0, Int32(columns), Int32(columns),
                                          Int32(rows), storage.floats.baseAddress!, c, ldc, accumulate ? 1 : 0, bias, residual, gelu ? 1 : 0)
            precondition(status == 0, "packed matrix product failed (\(status))")
        }
    }
}
