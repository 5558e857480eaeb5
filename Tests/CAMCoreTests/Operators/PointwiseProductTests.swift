import Testing
import CAMCore
import TestSupport

/// 1×1 convolutions in the two forms of the AVX-512 product added for EfficientNet's layers,
/// against a direct loop in double: few output channels (≤ 64 per thread), whose input is read
/// in place strip by strip instead of packed (`gemm_in_place_avx512`), and planes a few columns
/// past a multiple of 16, whose last columns go to the thin kernel (`ck_gemm_packed`'s edge).
/// Each with several slabs of k, a last strip narrower than a vector, rows and columns shared
/// between threads, and the bias, residual and ReLU applied as C is stored.
@Suite("Pointwise convolutions: B in place, edge columns")
struct PointwiseProductTests {
    /// (input shape, output channels).
    static let cases: [([Int], Int)] = [
        ([1, 144, 56, 56], 24),   // a projection in bands: 24 rows in place, one slab of 144
        ([1, 250, 14, 14], 40),   // 196 columns shared between threads (96 + 100), in place, two slabs of 125
        ([1, 30, 5, 17], 20),     // 85 columns: strips of 48 and 37 (a partial vector read masked)
        ([2, 400, 9, 9], 56),     // a batch; 81 columns, 56 rows in place, three slabs of 134
        ([1, 200, 14, 14], 80),   // 80 rows: packed, with the 4 columns past 192 in the thin kernel
        ([2, 64, 9, 9], 96),      // 81 = 80 + 1 column
        ([1, 40, 13, 15], 70),    // 195 = 192 + 3 columns, 70 rows (a strip and a part)
        ([1, 600, 10, 10], 128),  // 100 = 96 + 4 columns over four slabs; rows shared (64 + 64, in place)
    ]

    @Test("forward, with bias, a residual and ReLU", arguments: cases)
    func forward(_ shape: [Int], _ m: Int) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 37 + m))
        let reference = ReferenceConvolution(kernel: (1, 1), strides: (1, 1), pads: [0, 0, 0, 0])
        let x = rng.tensor(shape), weights = rng.tensor([m, shape[1], 1, 1]), bias = rng.tensor([m])
        let residual = rng.tensor([shape[0], m, shape[2], shape[3]], -2, 2)
        let conv = Convolution(strides: [1, 1], padding: .explicit([0, 0, 0, 0]), activation: .relu).addingResidual()
        let y = try conv.forward([x, weights, bias, residual])[0]
        #expect(y.shape == [shape[0], m, shape[2], shape[3]])
        let expected = reference.apply(x.toFloats(), shape: shape, weights: weights.toFloats(), outChannels: m, bias: bias.toFloats(),
                                       residual: residual.toFloats(), relu: true)
        #expect(ReferenceConvolution.relativeError(y.toFloats(), expected) < 1e-5)
    }
}
