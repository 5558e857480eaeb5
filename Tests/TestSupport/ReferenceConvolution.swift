/// A 2-D convolution (ungrouped) computed directly, in double, for tests to compare the
/// runtime's kernels against: `max((Σ x · w + bias) + residual, 0)` when `relu`.
public struct ReferenceConvolution {
    public let kernel: (h: Int, w: Int), strides: (h: Int, w: Int), dilations: (h: Int, w: Int)
    /// Top, left, bottom, right.
    public let pads: [Int]

    public init(kernel: (h: Int, w: Int), strides: (h: Int, w: Int) = (1, 1), dilations: (h: Int, w: Int) = (1, 1), pads: [Int]) {
        (self.kernel, self.strides, self.dilations, self.pads) = (kernel, strides, dilations, pads)
    }

    /// The output's (height, width) for an input plane of (h, w).
    public func outputSize(_ h: Int, _ w: Int) -> (Int, Int) {
        ((h + pads[0] + pads[2] - dilations.h * (kernel.h - 1) - 1) / strides.h + 1,
         (w + pads[1] + pads[3] - dilations.w * (kernel.w - 1) - 1) / strides.w + 1)
    }

    /// The output (n, m, oh, ow), flattened, for input `x` of `shape` (n, c, h, w) and
    /// weights (m, c, kh, kw).
    public func apply(_ x: [Float], shape: [Int], weights: [Float], outChannels m: Int, bias: [Float], residual: [Float]? = nil,
                      relu: Bool) -> [Double] {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = outputSize(h, w)
        var out = [Double](repeating: 0, count: n * m * oh * ow)
        for b in 0..<n { for o in 0..<m { for oy in 0..<oh { for ox in 0..<ow {
            var sum = Double(bias[o])
            for ch in 0..<c { for ky in 0..<kernel.h { for kx in 0..<kernel.w {
                let iy = oy * strides.h - pads[0] + ky * dilations.h, ix = ox * strides.w - pads[1] + kx * dilations.w
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                sum += Double(x[((b * c + ch) * h + iy) * w + ix]) * Double(weights[((o * c + ch) * kernel.h + ky) * kernel.w + kx])
            } } }
            let at = ((b * m + o) * oh + oy) * ow + ox
            if let residual { sum += Double(residual[at]) }
            out[at] = relu ? Swift.max(sum, 0) : sum
        } } } }
        return out
    }

    /// The largest difference between `actual` and `expected`, relative to the largest
    /// expected magnitude.
    public static func relativeError(_ actual: [Float], _ expected: [Double]) -> Double {
        var worst = 0.0, scale = 1e-30
        for (a, e) in zip(actual, expected) {
            worst = Swift.max(worst, Swift.abs(Double(a) - e))
            scale = Swift.max(scale, Swift.abs(e))
        }
        return worst / scale
    }
}
