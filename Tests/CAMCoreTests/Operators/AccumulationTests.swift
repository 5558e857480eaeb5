import Testing
import CAMCore
import TestSupport

/// `Runtime.withAccumulation` scopes double accumulation to one piece of work, worker threads
/// included: a product large enough to be split across the runtime's threads comes out as the
/// exact sum rounded once inside the scope, and as float32 GEMM's rounding outside it.
@Suite("Scoped accumulation")
struct AccumulationTests {
    /// Fraction of the entries of `a · b` (m×k · k×n) equal to their exact value rounded once.
    static func exactlyRounded(_ a: Tensor, _ b: Tensor) throws -> Double {
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        let product = try MatMul().forward([a, b])[0].toFloats()
        let (x, y) = (a.toFloats(), b.toFloats())
        var exact = 0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(x[i * k + p]) * Double(y[p * n + j]) }
                if Float(sum) == product[i * n + j] { exact += 1 }
            }
        }
        return Double(exact) / Double(m * n)
    }

    @Test func doubleAccumulationReachesEveryWorkerAndEndsWithItsScope() throws {
        guard Runtime.requestedAccumulation == nil else { return }  // SWIFTCAM_GEMM set for the whole run
        var rng = SplitMix(seed: 11)
        // 64 × 512 · 512 × 512: over 2^20 multiply-adds, split in column blocks across threads.
        let (a, b) = (rng.tensor([64, 512]), rng.tensor([512, 512]))
        let scoped = try Runtime.withAccumulation(.double) {
            #expect(Runtime.gemmAccumulation == .double)
            return try Self.exactlyRounded(a, b)
        }
        #expect(Runtime.gemmAccumulation == .single)
        let single = try Self.exactlyRounded(a, b)
        #expect(scoped >= 0.999, "\(scoped * 100) % exactly rounded in double")
        #expect(single < 0.9, "\(single * 100) % exactly rounded in float32: the product did not run in float32")
    }
}
