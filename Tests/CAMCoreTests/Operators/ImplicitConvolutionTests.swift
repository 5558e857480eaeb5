import Testing
import CAMCore
import TestSupport

/// Convolutions that read their (padded) input in place as the thin product's B
/// (`ImplicitConvolution`, `ck_conv_packed_thin`): at batch 1, and in bands of output rows for
/// large planes. Geometries the tap offsets and the padded copy must get right — dilation,
/// kernels that are not square, strides that differ across and down, uneven or no padding, an
/// input larger than the windows reach — with a bias, a residual and ReLU, against a direct
/// loop in double. A stride across of 3, and padding that would make the padded copy far
/// larger than the input, are not run this way and must still be right.
@Suite("Convolutions read in place (implicit GEMM)")
struct ImplicitConvolutionTests {
    /// (input shape, output channels, kernel, strides, dilations, pads top/left/bottom/right).
    static let cases: [([Int], Int, [Int], [Int], [Int], [Int])] = [
        ([1, 7, 11, 13], 19, [3, 3], [1, 1], [2, 2], [2, 2, 2, 2]),   // dilated
        ([1, 5, 12, 9], 10, [3, 5], [2, 1], [1, 1], [0, 2, 1, 0]),    // 3 × 5, strides 2 down and 1 across, uneven pads
        ([1, 9, 15, 15], 16, [1, 1], [2, 2], [1, 1], [0, 0, 0, 0]),   // a ResNet downsample: read with no copy
        ([1, 6, 17, 16], 8, [3, 3], [2, 2], [1, 1], [1, 1, 0, 0]),    // the last input row is never reached
        ([1, 4, 10, 10], 8, [3, 3], [3, 3], [1, 1], [1, 1, 1, 1]),    // stride 3 across: unfolded instead
        ([1, 130, 6, 6], 50, [3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),   // k = 1170: six slabs of 168 and a last of 162; 50 rows: a strip and a part
        ([1, 64, 14, 14], 96, [3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),  // rows shared among the threads
        ([2, 3, 40, 40], 20, [5, 5], [1, 1], [1, 1], [2, 2, 2, 2]),   // large planes of a batch: bands
        ([1, 3, 64, 48], 64, [7, 7], [2, 2], [1, 1], [3, 3, 3, 3]),   // a stem at batch 1: bands of 32 × 24
        ([1, 3, 4, 4], 8, [3, 3], [2, 2], [1, 1], [40, 40, 40, 40]),  // padding 20× the input: unfolded in bands instead
    ]

    @Test("forward, with bias, a residual and ReLU", arguments: cases)
    func forward(_ shape: [Int], _ m: Int, _ kernel: [Int], _ strides: [Int], _ dilations: [Int], _ pads: [Int]) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 17 + m * kernel[1]))
        let reference = ReferenceConvolution(kernel: (kernel[0], kernel[1]), strides: (strides[0], strides[1]),
                                             dilations: (dilations[0], dilations[1]), pads: pads)
        let (oh, ow) = reference.outputSize(shape[2], shape[3])
        let x = rng.tensor(shape), weights = rng.tensor([m, shape[1]] + kernel), bias = rng.tensor([m])
        let residual = rng.tensor([shape[0], m, oh, ow], -2, 2)
        let conv = Convolution(strides: strides, dilations: dilations, padding: .explicit(pads), activation: .relu).addingResidual()
        let y = try conv.forward([x, weights, bias, residual])[0]
        #expect(y.shape == [shape[0], m, oh, ow])
        let expected = reference.apply(x.toFloats(), shape: shape, weights: weights.toFloats(), outChannels: m, bias: bias.toFloats(),
                                       residual: residual.toFloats(), relu: true)
        #expect(ReferenceConvolution.relativeError(y.toFloats(), expected) < 1e-5)
    }

    /// A NaN in the input must come out as NaN where a window covers it, not be clamped to 0
    /// by the fused ReLU: through the wide product (1 × 1 over a large plane), the thin one
    /// (7 × 7) and the bands (5 × 5 over a large plane; a 3 × 3 one would run as Winograd,
    /// whose transforms spread a NaN over a whole tile).
    @Test("a NaN stays NaN through the fused bias and ReLU", arguments: [([1, 8, 32, 32], 1), ([1, 8, 7, 7], 3), ([1, 8, 32, 32], 5)])
    func nanPropagates(_ shape: [Int], _ k: Int) throws {
        var rng = SplitMix(seed: UInt64(shape[2] * 10 + k))
        var values = rng.tensor(shape).toFloats()
        values[0] = .nan
        let x = Tensor(shape: shape, floats: values), weights = rng.tensor([16, shape[1], k, k]), bias = rng.tensor([16])
        let pads = [k / 2, k / 2, k / 2, k / 2]
        let y = try Convolution(padding: .explicit(pads), activation: .relu).forward([x, weights, bias])[0].toFloats()
        let plane = shape[2] * shape[3]
        for o in 0..<16 {
            for p in 0..<plane {
                let (oy, ox) = p.quotientAndRemainder(dividingBy: shape[3])
                let covers = oy <= k / 2 && ox <= k / 2
                let v = y[o * plane + p]
                #expect(covers ? v.isNaN : (v >= 0 && v.isFinite), "channel \(o), pixel (\(oy), \(ox)): \(v)")
            }
        }
    }
}
