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
        let oh = (h + pads[0] + pads[2] - k) / s + 1, ow = (w + pads[1] + pads[3] - k) / s + 1
        #expect(y.shape == [n, m, oh, ow] && oh * ow >= 512)
        let (xs, ws, bs, ys) = (x.toFloats(), weights.toFloats(), bias.toFloats(), y.toFloats())
        var worst = 0.0, scale = 0.0
        for b in 0..<n { for o in 0..<m { for oy in 0..<oh { for ox in 0..<ow {
            var sum = Double(bs[o])
            for ch in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let (iy, ix) = (oy * s - pads[0] + ky, ox * s - pads[1] + kx)
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                sum += Double(xs[((b * c + ch) * h + iy) * w + ix]) * Double(ws[((o * c + ch) * k + ky) * k + kx])
            } } }
            let expected = Swift.max(sum, 0)
            scale = Swift.max(scale, expected)
            worst = Swift.max(worst, Swift.abs(expected - Double(ys[((b * m + o) * oh + oy) * ow + ox])))
        } } } }
        #expect(worst / scale < 1e-5)
    }
}
