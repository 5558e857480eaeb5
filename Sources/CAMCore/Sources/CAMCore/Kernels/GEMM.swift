internal import CBLAS
import Dispatch

/// Single-precision GEMM on OpenBLAS: `C = alpha · op(A) · op(B) + beta · C`, row-major.
/// `A` is m×k (k×m when `transA`), `B` is k×n (n×k when `transB`), `C` is m×n.
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
           b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 {
            for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
        }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Measures `cblas_sgemm` throughput (GFLOP/s) on an m×k · k×n product, best of `repetitions`.
public func measureSGEMM(m: Int, n: Int, k: Int, repetitions: Int = 5) -> Double {
    let a = Tensor(repeating: 0.5, shape: [m, k])
    let b = Tensor(repeating: 0.25, shape: [k, n])
    let c = Tensor(zeros: [m, n])
    var best = Double.infinity
    for _ in 0..<repetitions {
        let t0 = DispatchTime.now().uptimeNanoseconds
        sgemm(m: m, n: n, k: k, a: a.floats.baseAddress!, lda: k, b: b.floats.baseAddress!, ldb: n,
              c: c.mutableFloats.baseAddress!, ldc: n)
        best = Swift.min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return 2.0 * Double(m) * Double(n) * Double(k) / best / 1e9
}
