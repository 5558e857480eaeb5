import Dispatch

/// Single-precision GEMM on OpenBLAS: `C = alpha · op(A) · op(B) + beta · C`, row-major.
/// `A` is m×k (k×m when `transA`), `B` is k×n (n×k when `transB`), `C` is m×n.
///
/// OpenBLAS itself runs single-threaded; large products are split into column (or row)
/// blocks computed on the runtime's own threads. One thread pool for everything: OpenBLAS's
/// own workers busy-wait between calls and would steal the cores from the runtime's other
/// parallel kernels.
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
           b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if isEmptyProduct(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
    if sgemv(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc) {
        return
    }
    let threads = Runtime.threadCount
    let work = m * n * k
    if threads > 1 && work >= 1 << 20 {
        // Each thread packs all of the operand it shares: op(A) (m×k) when C is split in column
        // blocks, op(B) (k×n) when in row blocks. Split so that the shared one is the smaller.
        let byColumns = n >= 64 * threads && (m < 32 * threads || n >= m)
        if byColumns {
            // Column blocks of C (and of op(B)), multiples of 16.
            let per = ((n + threads - 1) / threads + 15) / 16 * 16
            let blocks = (n + per - 1) / per
            parallelEach(blocks) { t in
                let j0 = t * per, w = Swift.min(per, n - j0)
                sgemmBlock(transA: transA, transB: transB, m: m, n: w, k: k, alpha: alpha, a: a, lda: lda,
                           b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc)
            }
            return
        }
        if m >= 32 * threads {
            let per = ((m + threads - 1) / threads + 7) / 8 * 8
            let blocks = (m + per - 1) / per
            parallelEach(blocks) { t in
                let i0 = t * per, h = Swift.min(per, m - i0)
                sgemmBlock(transA: transA, transB: transB, m: h, n: n, k: k, alpha: alpha,
                           a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + i0 * ldc, ldc: ldc)
            }
            return
        }
    }
    sgemmBlock(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// A product with one row or one column (a classifier's last layer at batch 1, `x · Wᵀ`) as
/// `cblas_sgemv`, its rows shared among the threads: reading the weights is all there is to it,
/// and sgemm's kernels for one row read them at a third of the speed (EfficientNet-Lite0's
/// 1280 × 1000 layer: 0.64 against 0.23 ms on one core). Returns false, having done nothing,
/// for other products, in double accumulation, or when BLAS has no sgemv.
private func sgemv(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                   b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
    guard m == 1 || n == 1, Runtime.gemmAccumulation == .single, let gemv = OpenBLAS.functions.sgemv else { return false }
    // y = op(M) · x: with one row, y is C's row, M is op(B)ᵀ and x is op(A)'s row; with one
    // column, y is C's column, M is op(A) and x is op(B)'s column.
    let (matrix, ld, matrixTransposed, rows, x, incX, incY): (UnsafePointer<Float>, Int, Bool, Int, UnsafePointer<Float>, Int, Int)
    if m == 1 {
        (matrix, ld, matrixTransposed, rows) = (b, ldb, !transB, n)
        (x, incX, incY) = (a, transA ? lda : 1, 1)
    } else {
        (matrix, ld, matrixTransposed, rows) = (a, lda, transA, m)
        (x, incX, incY) = (b, transB ? 1 : ldb, ldc)
    }
    // M is (rows × k) as used; stored transposed (k × rows), its row i is column i.
    let threads = rows * k >= 1 << 16 ? Runtime.threadCount : 1
    let per = (rows + threads - 1) / threads
    parallelEach((rows + per - 1) / per) { t in
        let first = t * per, count = Swift.min(per, rows - first)
        let block = matrixTransposed ? matrix + first : matrix + first * ld
        let (r, cols) = matrixTransposed ? (k, count) : (count, k)
        // y may be uninitialised: some BLAS versions scale it by beta = 0 rather than overwrite
        // it, which keeps a NaN found there.
        if beta == 0 { for i in first ..< first + count { c[i * incY] = 0 } }
        gemv(OpenBLAS.rowMajor, matrixTransposed ? OpenBLAS.transpose : OpenBLAS.noTranspose, Int32(r), Int32(cols), alpha, block,
             Int32(ld), x, Int32(incX), beta, c + first * incY, Int32(incY))
    }
    return true
}

/// `sgemm` on the calling thread only, for callers that run several products in parallel.
func sgemmSerial(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                 alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                 b: UnsafePointer<Float>, ldb: Int,
                 beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if isEmptyProduct(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
    sgemmBlock(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// Handles the products with nothing to multiply (BLAS rejects k = 0): `C = beta · C`, which is
/// zero for beta 0. Returns whether there was nothing more to do.
private func isEmptyProduct(m: Int, n: Int, k: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
    if m == 0 || n == 0 { return true }
    guard k == 0 else { return false }
    if beta == 0 {
        for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
    } else if beta != 1 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
    }
    return true
}

@inline(__always)
private func sgemmBlock(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if Runtime.gemmAccumulation == .double, let dgemm = OpenBLAS.functions.dgemm {
        // The operands widened exactly; one rounding of the result.
        let (ar, ac) = transA ? (k, m) : (m, k), (br, bc) = transB ? (n, k) : (k, n)
        var da = [Double](repeating: 0, count: ar * ac), db = [Double](repeating: 0, count: br * bc), dc = [Double](repeating: 0, count: m * n)
        for i in 0..<ar { for j in 0..<ac { da[i * ac + j] = Double(a[i * lda + j]) } }
        for i in 0..<br { for j in 0..<bc { db[i * bc + j] = Double(b[i * ldb + j]) } }
        if beta != 0 { for i in 0..<m { for j in 0..<n { dc[i * n + j] = Double(c[i * ldc + j]) } } }
        dgemm(OpenBLAS.rowMajor, transA ? OpenBLAS.transpose : OpenBLAS.noTranspose, transB ? OpenBLAS.transpose : OpenBLAS.noTranspose,
              Int32(m), Int32(n), Int32(k), Double(alpha), da, Int32(ac), db, Int32(bc), Double(beta), &dc, Int32(n))
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = Float(dc[i * n + j]) } }
        return
    }
    OpenBLAS.functions.sgemm(OpenBLAS.rowMajor, transA ? OpenBLAS.transpose : OpenBLAS.noTranspose,
                             transB ? OpenBLAS.transpose : OpenBLAS.noTranspose,
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
    withExtendedLifetime((a, b, c)) {}
    return 2.0 * Double(m) * Double(n) * Double(k) / best / 1e9
}
