import Testing
import CAMCore
import TestSupport

/// Convolutions whose output planes are thin products (n = h·w ≤ 64: a late layer's 7 × 7
/// plane), which the AVX-512 product computes with C's rows in vector lanes
/// (`gemm_thin.c`), against a direct loop in double: output channels that fill neither a
/// 48-row strip nor a 16-row vector nor an 8-row block, more than one slab of k (at most 192 wide, of equal width),
/// rows shared between threads, and the bias, residual and ReLU applied as C is stored.
@Suite("Convolutions with thin output planes")
struct ThinProductTests {
    /// (input shape, output channels, kernel, stride, pads top/left/bottom/right).
    static let cases: [([Int], Int, Int, Int, [Int])] = [
        ([1, 40, 7, 7], 53, 3, 1, [1, 1, 1, 1]),     // 49 columns in 7 blocks of 7; 53 rows: a strip and a part
        ([1, 64, 7, 7], 200, 3, 1, [1, 1, 1, 1]),    // large enough to share among threads
        ([1, 24, 9, 13], 37, 3, 2, [1, 1, 1, 1]),    // 5 × 7 = 35 columns
        ([1, 300, 2, 7], 24, 1, 1, [0, 0, 0, 0]),    // 1×1, 14 columns, k = 300
        ([2, 16, 5, 1], 8, 1, 1, [0, 0, 0, 0]),      // 5 columns, one 8-row block
        ([1, 100, 1, 19], 24, 1, 1, [0, 0, 0, 0]),   // 19 columns: blocks of 7, 7 and 5, over two halves of a slab
        ([1, 250, 3, 11], 40, 1, 1, [0, 0, 0, 0]),   // 33 columns: four blocks of 7 and one of 5, two slabs of 125
        ([3, 200, 7, 7], 200, 1, 1, [0, 0, 0, 0]),   // 1×1 on a batch, weights large next to the planes: a thin product per image
    ]

    @Test("forward, with bias, a residual and ReLU", arguments: cases)
    func forward(_ shape: [Int], _ m: Int, _ k: Int, _ s: Int, _ pads: [Int]) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 31 + m * k))
        let reference = ReferenceConvolution(kernel: (k, k), strides: (s, s), pads: pads)
        let (oh, ow) = reference.outputSize(shape[2], shape[3])
        let x = rng.tensor(shape), weights = rng.tensor([m, shape[1], k, k]), bias = rng.tensor([m])
        let residual = rng.tensor([shape[0], m, oh, ow], -2, 2)
        let conv = Convolution(strides: [s, s], padding: .explicit(pads), activation: .relu).addingResidual()
        let y = try conv.forward([x, weights, bias, residual])[0]
        #expect(y.shape == [shape[0], m, oh, ow] && oh * ow <= 64)
        let expected = reference.apply(x.toFloats(), shape: shape, weights: weights.toFloats(), outChannels: m, bias: bias.toFloats(),
                                       residual: residual.toFloats(), relu: true)
        #expect(ReferenceConvolution.relativeError(y.toFloats(), expected) < 1e-5)
    }
}
