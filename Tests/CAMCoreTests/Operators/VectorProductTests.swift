import Testing
import CAMCore
import TestSupport

/// Products with one row or one column (a classifier's last layer at batch 1, and its
/// gradient), which run as `cblas_sgemv` shared among the threads, for every transposition,
/// with and without C, against a direct sum in double. Large enough (1000 × 300) to be shared.
@Suite("Products with one row or one column")
struct VectorProductTests {
    /// (m, n, k, transA, transB, with C).
    static let cases: [(Int, Int, Int, Bool, Bool, Bool)] = [
        (1, 1000, 300, false, true, true),    // x · Wᵀ + b: ONNX's Gemm after a pooled feature
        (1, 1000, 300, false, false, false),
        (1, 999, 301, true, true, false),     // A's one row read down a column
        (1, 1001, 300, true, false, true),
        (1000, 1, 300, false, false, true),   // one column of C: C's pitch 1
        (999, 1, 302, true, true, false),
        (1, 1, 5, false, false, true),
    ]

    @Test("Gemm with one row or column", arguments: cases)
    func product(_ m: Int, _ n: Int, _ k: Int, _ transA: Bool, _ transB: Bool, _ withC: Bool) throws {
        var rng = SplitMix(seed: UInt64(m * 7 + n * 3 + k + (transA ? 1 : 0) + (transB ? 2 : 0)))
        let a = rng.tensor(transA ? [k, m] : [m, k]), b = rng.tensor(transB ? [n, k] : [k, n]), c = rng.tensor([n])
        let (alpha, beta): (Float, Float) = (0.7, 1.3)
        let gemm = Gemm(alpha: alpha, beta: beta, transA: transA, transB: transB)
        let y = try gemm.forward(withC ? [a, b, c] : [a, b])[0]
        #expect(y.shape == [m, n])
        let (av, bv, cv, yv) = (a.toFloats(), b.toFloats(), c.toFloats(), y.toFloats())
        var worst = 0.0, scale = 0.0
        for i in 0..<m { for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let left = transA ? av[p * m + i] : av[i * k + p], right = transB ? bv[j * k + p] : bv[p * n + j]
                sum += Double(left) * Double(right)
            }
            let expected = Double(alpha) * sum + (withC ? Double(beta) * Double(cv[j]) : 0)
            scale = Swift.max(scale, Swift.abs(expected))
            worst = Swift.max(worst, Swift.abs(expected - Double(yv[i * n + j])))
        } }
        #expect(worst / scale < 1e-5)
    }
}
