import Testing
import CAMCore
import TestSupport

/// Depthwise convolutions (one filter per channel) with a fused ReLU6, against a direct loop
/// in double: strides 1–3, kernels 3 and 5, dilation, odd and even widths, uneven padding —
/// the cases of the padded, phase-split scratch plane the portable kernel reads — and planes
/// wider than one 16-lane vector and taller than one 8-row block, with partial ones, for the
/// direct AVX-512 kernel (`depthwise_avx512.c`), and channel counts that fill blocks of 16 in
/// part, for the channel-blocked one (`depthwise_channels.c`), and one image shared among threads
/// by blocks of channels or by bands of rows.
@Suite("Depthwise convolutions")
struct DepthwiseTests {
    /// (input shape, kernel, stride, dilation, pads top/left/bottom/right).
    static let cases: [([Int], Int, Int, Int, [Int])] = [
        ([2, 3, 9, 9], 3, 1, 1, [1, 1, 1, 1]),
        ([1, 4, 8, 11], 3, 2, 1, [0, 1, 1, 0]),
        ([1, 2, 12, 7], 3, 2, 1, [1, 0, 0, 1]),
        ([1, 3, 10, 10], 5, 2, 1, [2, 2, 2, 2]),
        ([2, 2, 9, 13], 3, 3, 1, [1, 2, 0, 1]),
        ([1, 2, 11, 9], 3, 1, 2, [2, 2, 2, 2]),
        ([1, 5, 4, 5], 5, 1, 1, [2, 2, 2, 2]),
        ([1, 2, 19, 37], 3, 1, 1, [1, 1, 1, 1]),
        ([1, 2, 21, 45], 3, 2, 1, [1, 1, 1, 1]),
        ([1, 2, 17, 70], 5, 2, 1, [2, 2, 2, 2]),
        ([1, 2, 10, 33], 5, 1, 1, [0, 2, 1, 0]),
        // Stride 2 reads 32 columns per vector: the plane's last column in the second 16.
        ([1, 2, 9, 28], 3, 2, 1, [1, 1, 1, 1]),
        ([1, 2, 6, 60], 5, 2, 1, [2, 2, 2, 2]),
        // Blocks of 16 channels (`depthwise_channels.c`): a partial last block, several images,
        // planes narrower than a vector, a tall kernel, stride 3, wide rows.
        ([2, 37, 7, 7], 5, 1, 1, [2, 2, 2, 2]),
        ([3, 16, 5, 3], 3, 1, 1, [1, 1, 1, 1]),
        ([1, 20, 15, 14], 7, 2, 1, [3, 3, 3, 3]),
        ([1, 33, 12, 11], 3, 3, 1, [1, 0, 2, 1]),
        ([1, 18, 9, 40], 3, 2, 1, [0, 1, 1, 0]),
        // One image on several threads: whole blocks of channels per thread when the channels
        // outnumber the pixels (5 blocks: 3 and 2), bands of rows otherwise (9 output rows: 5
        // and 4; a single output row: one band).
        ([1, 70, 6, 6], 3, 1, 1, [1, 1, 1, 1]),
        ([1, 40, 17, 12], 5, 2, 1, [2, 2, 2, 2]),
        ([1, 21, 1, 150], 3, 1, 1, [1, 1, 1, 1]),
    ]

    @Test("forward with bias and ReLU6", arguments: cases)
    func forward(_ shape: [Int], _ k: Int, _ s: Int, _ d: Int, _ pads: [Int]) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 7 + k * 3 + s))
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let x = rng.tensor(shape, -3, 9)
        let weights = rng.tensor([c, 1, k, k])
        let bias = rng.tensor([c])
        let conv = Convolution(strides: [s, s], dilations: [d, d], padding: .explicit(pads), group: c, activation: .clip(0, 6))
        let y = try conv.forward([x, weights, bias])[0]
        let oh = (h + pads[0] + pads[2] - d * (k - 1) - 1) / s + 1, ow = (w + pads[1] + pads[3] - d * (k - 1) - 1) / s + 1
        #expect(y.shape == [n, c, oh, ow])
        let (xs, ws, bs, ys) = (x.toFloats(), weights.toFloats(), bias.toFloats(), y.toFloats())
        var worst = 0.0
        for b in 0..<n { for ch in 0..<c { for oy in 0..<oh { for ox in 0..<ow {
            var sum = Double(bs[ch])
            for ky in 0..<k { for kx in 0..<k {
                let (iy, ix) = (oy * s - pads[0] + ky * d, ox * s - pads[1] + kx * d)
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                sum += Double(xs[((b * c + ch) * h + iy) * w + ix]) * Double(ws[(ch * k + ky) * k + kx])
            } }
            let expected = Swift.min(Swift.max(sum, 0), 6)
            worst = Swift.max(worst, Swift.abs(expected - Double(ys[((b * c + ch) * oh + oy) * ow + ox])))
        } } } }
        #expect(worst < 1e-5)
    }

    /// A residual added before the activation (`Conv+Add`), applied as the depthwise kernels
    /// store: exactly the plain convolution's output plus the residual, clamped.
    @Test("with a residual added before the clamp", arguments: [([2, 21, 9, 10], 3, 1), ([1, 17, 14, 14], 5, 2)])
    func residual(_ shape: [Int], _ k: Int, _ s: Int) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) + k))
        let c = shape[1]
        let x = rng.tensor(shape, -3, 9), weights = rng.tensor([c, 1, k, k]), bias = rng.tensor([c])
        let plain = Convolution(strides: [s, s], padding: .explicit([k / 2, k / 2, k / 2, k / 2]), group: c)
        let convolved = try plain.forward([x, weights, bias])[0]
        let r = rng.tensor(convolved.shape, -4, 4)
        let fused = try plain.addingResidual().fused(.clip(0, 6)).forward([x, weights, bias, r])[0]
        let (sums, rs, ys) = (convolved.toFloats(), r.toFloats(), fused.toFloats())
        for i in ys.indices { #expect(ys[i] == Swift.min(Swift.max(sums[i] + rs[i], 0), 6), "value \(i)") }
    }
}
