import Testing
import CAMCore
import TestSupport

/// Convolutions with large output planes, computed in bands of output rows (im2col or the
/// input itself, GEMM and epilogue per band), against a direct loop in double.
@Suite("Convolutions over large planes, in bands")
struct TiledConvolutionTests {
    /// (input shape, output channels, kernel, stride, pads top/left/bottom/right).
    static let cases: [([Int], Int, Int, Int, [Int])] = [
        ([2, 3, 70, 66], 8, 7, 2, [3, 3, 3, 3]),   // a ResNet stem
        ([1, 5, 40, 40], 12, 1, 1, [0, 0, 0, 0]),  // 1×1: the input is the patch matrix
        ([1, 3, 34, 34], 4, 3, 1, [1, 1, 1, 1]),   // 3×3 with too few channels for Winograd
        ([3, 2, 129, 65], 3, 3, 2, [0, 1, 1, 0]),  // uneven padding
        ([1, 32, 130, 130], 16, 3, 2, [1, 1, 1, 1]), // five bands of 13 rows
        ([2, 16, 56, 56], 24, 3, 2, [1, 1, 1, 1]),  // 28×28 planes (ResNet's stride-2 3×3), the smallest in bands
    ]

    @Test("forward, with bias and ReLU", arguments: cases)
    func forward(_ shape: [Int], _ m: Int, _ k: Int, _ s: Int, _ pads: [Int]) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 13 + m * k))
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let x = rng.tensor(shape), weights = rng.tensor([m, c, k, k]), bias = rng.tensor([m])
        let y = try Convolution(strides: [s, s], padding: .explicit(pads), activation: .relu).forward([x, weights, bias])[0]
        let reference = ReferenceConvolution(kernel: (k, k), strides: (s, s), pads: pads)
        let (oh, ow) = reference.outputSize(h, w)
        #expect(y.shape == [n, m, oh, ow] && oh * ow >= 512)
        let expected = reference.apply(x.toFloats(), shape: shape, weights: weights.toFloats(), outChannels: m, bias: bias.toFloats(), relu: true)
        #expect(ReferenceConvolution.relativeError(y.toFloats(), expected) < 1e-5)
    }
}
