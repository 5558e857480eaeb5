import Testing
import CAMCore
import TestSupport

/// Max pooling against a direct loop: strides 1 and 2 (the AVX-512 kernel,
/// `maxpool_avx512.c`) and 3 and dilation (the portable loop), planes wider than one 16-lane
/// vector, padding on either side, `ceil_mode` windows that hang past the plane, and NaN
/// making its windows NaN.
@Suite("Max pooling")
struct MaxPoolTests {
    /// (input shape, kernel, stride, dilation, pads top/left/bottom/right, ceil mode).
    static let cases: [([Int], Int, Int, Int, [Int], Bool)] = [
        ([1, 3, 112, 112], 3, 2, 1, [1, 1, 1, 1], false),  // ResNet's pool after the stem
        ([2, 2, 9, 37], 3, 1, 1, [1, 1, 1, 1], false),
        ([1, 2, 10, 33], 2, 2, 1, [0, 0, 0, 0], true),
        ([1, 2, 11, 20], 5, 2, 1, [2, 2, 2, 2], true),
        ([1, 2, 13, 17], 3, 3, 1, [1, 1, 1, 1], false),
        ([1, 1, 12, 12], 3, 1, 2, [2, 2, 2, 2], false),
    ]

    @Test("forward against a direct loop", arguments: cases)
    func forward(_ shape: [Int], _ k: Int, _ s: Int, _ d: Int, _ pads: [Int], _ ceil: Bool) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 5 + k + s))
        var xs = rng.tensor(shape, -5, 5).toFloats()
        xs[xs.count / 3] = .nan
        let x = Tensor(shape: shape, floats: xs)
        let window = PoolWindow(kernel: [k, k], strides: [s, s], dilations: [d, d], padding: .explicit(pads), ceilMode: ceil)
        let y = try MaxPool(window).forward([x])[0]
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = (y.shape[2], y.shape[3])
        let ys = y.toFloats()
        var mismatches = 0, nans = 0
        for b in 0..<n { for ch in 0..<c { for oy in 0..<oh { for ox in 0..<ow {
            var m = -Float.infinity, sawNaN = false
            for ky in 0..<k { for kx in 0..<k {
                let (iy, ix) = (oy * s - pads[0] + ky * d, ox * s - pads[1] + kx * d)
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let v = xs[((b * c + ch) * h + iy) * w + ix]
                if v.isNaN { sawNaN = true } else { m = Swift.max(m, v) }
            } }
            let got = ys[((b * c + ch) * oh + oy) * ow + ox]
            if sawNaN { nans += 1; if !got.isNaN { mismatches += 1 } } else if got != m { mismatches += 1 }
        } } } }
        #expect(mismatches == 0)
        #expect(nans > 0)
    }
}
