import Testing
import CAMCore
import TestSupport

/// Convolutions whose output planes are thin products (n = h·w ≤ 64: a late layer's 7 × 7
/// plane), which the AVX-512 product computes with C's rows in vector lanes
/// (`gemm_thin.c`), against a direct loop in double: output channels that fill neither a
/// 48-row strip nor a 16-row vector nor an 8-row block, more than one 128-wide slab of k,
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
        ([1, 150, 3, 11], 40, 1, 1, [0, 0, 0, 0]),   // 33 columns: four blocks of 7 and one of 5, two slabs
        ([3, 200, 7, 7], 200, 1, 1, [0, 0, 0, 0]),   // 1×1 on a batch, weights large next to the planes: a thin product per image
    ]

    @Test("forward, with bias, a residual and ReLU", arguments: cases)
    func forward(_ shape: [Int], _ m: Int, _ k: Int, _ s: Int, _ pads: [Int]) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 31 + m * k))
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let oh = (h + pads[0] + pads[2] - k) / s + 1, ow = (w + pads[1] + pads[3] - k) / s + 1
        let x = rng.tensor(shape), weights = rng.tensor([m, c, k, k]), bias = rng.tensor([m])
        let residual = rng.tensor([n, m, oh, ow], -2, 2)
        let conv = Convolution(strides: [s, s], padding: .explicit(pads), activation: .relu).addingResidual()
        let y = try conv.forward([x, weights, bias, residual])[0]
        #expect(y.shape == [n, m, oh, ow] && oh * ow <= 64)
        let (xs, ws, bs, rs, ys) = (x.toFloats(), weights.toFloats(), bias.toFloats(), residual.toFloats(), y.toFloats())
        var worst = 0.0, scale = 0.0
        for b in 0..<n { for o in 0..<m { for oy in 0..<oh { for ox in 0..<ow {
            let at = ((b * m + o) * oh + oy) * ow + ox
            var sum = Double(bs[o])
            for ch in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let (iy, ix) = (oy * s - pads[0] + ky, ox * s - pads[1] + kx)
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                sum += Double(xs[((b * c + ch) * h + iy) * w + ix]) * Double(ws[((o * c + ch) * k + ky) * k + kx])
            } } }
            let expected = Swift.max(sum + Double(rs[at]), 0)
            scale = Swift.max(scale, expected)
            worst = Swift.max(worst, Swift.abs(expected - Double(ys[at])))
        } } } }
        #expect(worst / scale < 1e-5)
    }
}
