import CAMCore

/// upstream's `dff(activations, n_components)`: the (N, C, h, w) activations as a C × N·h·w
/// matrix (NaN → 0), shifted by each channel's minimum so it is non-negative, factorized by NMF
/// into C × K concepts and K × N·h·w strengths; concepts = W + offset.
///
/// The NMF is sklearn's: coordinate descent from sklearn's random start (numpy's generator,
/// reproduced), so on the same activations it finds the same concepts. Options:
/// `FactorizationOptions.initialW/initialH` start elsewhere (e.g. sklearn's saved start).
final class DFF: FeatureFactorization {
    let name = "dff"
    let summary = "deep feature factorization: NMF (sklearn's coordinate descent and random start) of a layer's activations into K concepts"

    func factorize(_ activations: Tensor, components k: Int, options: FactorizationOptions) throws -> Factorization {
        guard activations.rank == 4, activations.dtype == .float32 else {
            throw CAMError(.usage, "dff needs (N, C, h, w) float32 activations, got \(activations.dtype) \(activations.shape)")
        }
        let (n, c, h, w) = (activations.shape[0], activations.shape[1], activations.shape[2], activations.shape[3])
        let cols = n * h * w
        guard k >= 1, k <= Swift.min(c, cols) else {
            throw CAMError(.usage, "--concepts must be between 1 and \(Swift.min(c, cols)) for activations of shape \(activations.shape), got \(k)")
        }
        guard options.seed <= UInt64(UInt32.max) else { throw CAMError(.usage, "the NMF seed must be below 2^32 (numpy's RandomState), got \(options.seed)") }
        // A = activations as (C, N·h·w), column = image·h·w + y·w + x; NaN → 0; minus each row's minimum.
        let src = activations.floats
        var matrix = [Float](repeating: 0, count: c * cols)
        var offset = [Float](repeating: .infinity, count: c)
        for img in 0..<n {
            for ch in 0..<c {
                for p in 0..<(h * w) {
                    var v = src[(img * c + ch) * h * w + p]
                    if v.isNaN { v = 0 }
                    matrix[ch * cols + img * h * w + p] = v
                    offset[ch] = Swift.min(offset[ch], v)
                }
            }
        }
        for ch in 0..<c { for j in 0..<cols { matrix[ch * cols + j] -= offset[ch] } }
        let a = Tensor(shape: [c, cols], floats: matrix)

        let start: (w: Tensor, h: Tensor)
        if let w0 = options.initialW, let h0 = options.initialH {
            start = (w0, h0)
        } else if options.initialW != nil || options.initialH != nil {
            throw CAMError(.usage, "dff: give both initial matrices (W and H) or neither")
        } else {
            start = NMF.randomStart(a, components: k, seed: UInt32(options.seed))
        }
        guard start.w.shape == [c, k], start.h.shape == [k, cols] else {
            throw CAMError(.usage, "dff: initial W \(start.w.shape) and H \(start.h.shape) must be (\(c), \(k)) and (\(k), \(cols))")
        }
        let fit = try NMF(maxIterations: options.maxIterations, tolerance: options.tolerance).fit(a, w: start.w, h: start.h)

        // ‖A − W·H‖_F in float64.
        let wf = fit.w.floats, hf = fit.h.floats
        var error = 0.0
        for i in 0..<c {
            for j in 0..<cols {
                var s = 0.0
                for r in 0..<k { s += Double(wf[i * k + r]) * Double(hf[r * cols + j]) }
                let d = Double(matrix[i * cols + j]) - s
                error += d * d
            }
        }
        let concepts = Tensor(shape: [c, k], floats: (0..<(c * k)).map { wf[$0] + offset[$0 / k] })
        // H (K, N·h·w) → (N, K, h, w).
        var explanations = [Float](repeating: 0, count: n * k * h * w)
        for comp in 0..<k {
            for img in 0..<n {
                for p in 0..<(h * w) { explanations[(img * k + comp) * h * w + p] = hf[comp * cols + img * h * w + p] }
            }
        }
        return Factorization(concepts: concepts, explanations: Tensor(shape: [n, k, h, w], floats: explanations), w: fit.w, h: fit.h,
                             offset: Tensor(shape: [c], floats: offset), iterations: fit.iterations, reconstructionError: error.squareRoot())
    }
}
