import CAMCore

/// Non-negative matrix factorisation A ≈ W·H (Frobenius norm) by coordinate descent — sklearn's
/// `NMF(solver='cd')` step for step (`_fit_coordinate_descent` / `_update_cdnmf_fast`), in float32
/// as sklearn runs on float32 data:
///
/// each sweep updates every column of W, then every row of H, one coordinate at a time with the
/// exact minimiser clipped at 0 (the products H·Hᵀ and A·Hᵀ on OpenBLAS); it stops when the sum of
/// the projected gradients falls to `tolerance` times the first sweep's, or after `maxIterations`.
struct NMF {
    var maxIterations = 200
    var tolerance = 1e-4

    struct Result {
        var w: Tensor // (m, k)
        var h: Tensor // (k, n)
        var iterations: Int
    }

    /// sklearn's `_initialize_nmf(A, k, init='random', random_state=seed)`:
    /// `avg = sqrt(A.mean() / k)`; H = |avg · N(0,1)| (k × n) drawn first, then W (m × k).
    static func randomStart(_ a: Tensor, components k: Int, seed: UInt32) -> (w: Tensor, h: Tensor) {
        let (m, n) = (a.shape[0], a.shape[1])
        let mean = numpyPairwiseSum(a.floats) / Float(a.count)
        let avg = (mean / Float(k)).squareRoot()
        var rng = NumpyRandomState(seed: seed)
        let h = (0..<(k * n)).map { _ in abs(avg * Float(rng.standardNormal())) }
        let w = (0..<(m * k)).map { _ in abs(avg * Float(rng.standardNormal())) }
        return (Tensor(shape: [m, k], floats: w), Tensor(shape: [k, n], floats: h))
    }

    func fit(_ a: Tensor, w w0: Tensor, h h0: Tensor) throws -> Result {
        let (m, n) = (a.shape[0], a.shape[1])
        let k = w0.shape[1]
        guard w0.shape == [m, k], h0.shape == [k, n] else {
            throw CAMError(.usage, "NMF start: W \(w0.shape) and H \(h0.shape) do not fit A \(a.shape)")
        }
        var w = w0.toFloats()
        var ht = transposed(h0.toFloats(), rows: k, cols: n) // (n, k), as sklearn keeps H
        var iterations = 0
        var initialViolation = 0.0
        for sweep in stride(from: 1, through: maxIterations, by: 1) {
            iterations = sweep
            var violation = 0.0
            // W given H: gradient terms H·Hᵀ (k × k) and A·Hᵀ (m × k).
            let htT = Tensor(shape: [n, k], floats: ht)
            violation += update(&w, rows: m, k: k, gram: try CAMMath.matmul(htT, htT, transposeA: true),
                                cross: try CAMMath.matmul(a, htT))
            // H given W, on the transposed problem: Aᵀ ≈ Hᵀ·Wᵀ.
            let wT = Tensor(shape: [m, k], floats: w)
            violation += update(&ht, rows: n, k: k, gram: try CAMMath.matmul(wT, wT, transposeA: true),
                                cross: try CAMMath.matmul(a, wT, transposeA: true))
            if sweep == 1 { initialViolation = violation }
            if initialViolation == 0 || violation / initialViolation <= tolerance { break }
        }
        return Result(w: Tensor(shape: [m, k], floats: w), h: Tensor(shape: [k, n], floats: transposed(ht, rows: n, cols: k)), iterations: iterations)
    }

    /// One pass of `_update_cdnmf_fast` over the columns of `x` (rows × k); returns the summed
    /// |projected gradient| (float32, as sklearn accumulates it).
    private func update(_ x: inout [Float], rows: Int, k: Int, gram: Tensor, cross: Tensor) -> Double {
        let g = gram.floats, c = cross.floats
        var violation: Float = 0
        x.withUnsafeMutableBufferPointer { x in
            for t in 0..<k {
                let hess = g[t * k + t]
                for i in 0..<rows {
                    var grad = -c[i * k + t]
                    for r in 0..<k { grad += g[t * k + r] * x[i * k + r] }
                    let pg = x[i * k + t] == 0 ? Swift.min(0, grad) : grad
                    violation += abs(pg)
                    if hess != 0 { x[i * k + t] = Swift.max(x[i * k + t] - grad / hess, 0) }
                }
            }
        }
        return Double(violation)
    }

    private func transposed(_ v: [Float], rows: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        for i in 0..<rows { for j in 0..<cols { out[j * rows + i] = v[i * cols + j] } }
        return out
    }
}
