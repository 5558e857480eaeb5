/// Tensor arithmetic that CAM methods share, so method plugins stay a few lines of math.
public enum CAMMath {
    /// Mean over the spatial axes of (N, C, h, w) → (N, C).
    public static func spatialMean(_ t: Tensor) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        let (n, c) = (t.shape[0], t.shape[1])
        let plane = t.shape[2] * t.shape[3]
        let out = Tensor(uninitialized: [n, c])
        let src = t.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
        for i in 0..<(n * c) {
            var acc: Float = 0
            for j in 0..<plane { acc += src[i * plane + j] }
            dst[i] = acc / Float(plane)
        }
        return out
    }

    /// `Σ_c w[n, c] · A[n, c, :, :]` → (N, h, w).
    public static func weightedSum(_ activations: Tensor, weights: Tensor) throws -> Tensor {
        let a = activations
        guard a.rank == 4, weights.shape == [a.shape[0], a.shape[1]] else {
            throw CAMError(.runtime, "weights \(weights.shape) do not match activations \(a.shape)")
        }
        let (n, c, h, w) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        let out = Tensor(uninitialized: [n, h, w])
        for i in 0..<n {
            // (1 × C) · (C × hw)
            sgemm(m: 1, n: h * w, k: c, a: weights.floats.baseAddress! + i * c, lda: c,
                  b: a.floats.baseAddress! + i * c * h * w, ldb: h * w, c: out.mutableFloats.baseAddress! + i * h * w, ldc: h * w)
        }
        return out
    }

    /// Elementwise product of two tensors of one shape.
    public static func multiply(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw CAMError(.runtime, "shapes \(a.shape) and \(b.shape) differ") }
        return mapFloats(a, b, *)
    }

    /// Sum over the channel axis of (N, C, h, w) → (N, h, w).
    public static func channelSum(_ t: Tensor) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        let ones = Tensor(repeating: 1, shape: [t.shape[0], t.shape[1]])
        return try weightedSum(t, weights: ones)
    }
}
