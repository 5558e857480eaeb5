import Testing
import CAMCore
import TestSupport

/// 3×3 stride-1 convolutions and their input gradients, by each algorithm (Winograd F(4×4)
/// with F(2×2) below its tile count, F(2×2) only, im2col), against a direct convolution
/// accumulated in double, on the edge cases of the tiling: odd and even sizes, every
/// padding from 0 to 2 on each side, partial tiles, a fused epilogue, and the blocking edges
/// of the packed matrix product (`gemm_packed.c`). The batches are large
/// enough for both tile sizes' minimum tile counts (48 and 64), so every case takes the
/// Winograd path.
@Suite("3×3 convolutions and their input gradients")
struct WinogradTests {
    /// (input shape, output channels, pads top/left/bottom/right).
    static let shapes: [([Int], Int, [Int])] = [
        ([12, 8, 8, 8], 8, [1, 1, 1, 1]),
        ([12, 9, 7, 5], 12, [1, 1, 1, 1]),
        ([24, 16, 6, 9], 8, [0, 0, 0, 0]),
        ([12, 8, 5, 5], 10, [2, 2, 2, 2]),
        ([16, 10, 11, 4], 8, [0, 2, 1, 0]),
        ([48, 8, 3, 3], 8, [1, 0, 2, 1]),
        ([3, 32, 14, 14], 24, [1, 1, 1, 1]),
        ([1, 16, 29, 31], 16, [1, 1, 1, 1]),
        // The packed GEMM's edges (AVX-512): more input channels than one slab (two of 100), a
        // partial block of 8 output channels, more tiles than one 960-column block of B.
        ([6, 200, 12, 12], 20, [1, 1, 1, 1]),
        ([4, 8, 62, 64], 8, [1, 1, 1, 1]),
        // Images side by side in strips (`Winograd.StripLayout`), the last strip short: 2 strips
        // of 4 and 3 images for F(4×4), 3 of 3, 3 and 1 for F(2×2).
        ([7, 8, 70, 50], 8, [1, 1, 1, 1]),
    ]
    static let cases = Runtime.ConvolutionAlgorithm.allCases.flatMap { a in shapes.map { (a, $0.0, $0.1, $0.2) } }

    /// F(4×4)'s transforms hold 4, 5, 8, ⅙ and ¹⁄₂₄ and round more than the others.
    static func tolerance(_ algorithm: Runtime.ConvolutionAlgorithm) -> Double { algorithm == .winograd ? 1e-5 : 2e-6 }

    @Test("forward, with bias and ReLU", arguments: cases)
    func forward(_ algorithm: Runtime.ConvolutionAlgorithm, _ shape: [Int], _ outChannels: Int, _ pads: [Int]) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 31 + outChannels))
        let x = rng.tensor(shape)
        let w = rng.tensor([outChannels, shape[1], 3, 3])
        let b = rng.tensor([outChannels])
        let conv = Convolution(padding: .explicit(pads), activation: .relu)
        let y = try Runtime.withConvolutionAlgorithm(algorithm) { try conv.forward([x, w, b])[0] }
        let expected = Self.direct(x, w, pads: pads).enumerated().map { i, v in
            Swift.max(0, v + Double(b.floats[(i / (y.shape[2] * y.shape[3])) % outChannels]))
        }
        #expect(y.shape == [shape[0], outChannels, shape[2] + pads[0] + pads[2] - 2, shape[3] + pads[1] + pads[3] - 2])
        #expect(Self.relativeError(y.toFloats(), expected) < Self.tolerance(algorithm))
    }

    @Test("input gradient", arguments: cases)
    func inputGradient(_ algorithm: Runtime.ConvolutionAlgorithm, _ shape: [Int], _ outChannels: Int, _ pads: [Int]) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 17 + outChannels))
        let x = rng.tensor(shape)
        let w = rng.tensor([outChannels, shape[1], 3, 3])
        let conv = Convolution(padding: .explicit(pads))
        let outShape = try conv.forward([x, w])[0].shape
        let gy = rng.tensor(outShape)
        let dx = try Runtime.withConvolutionAlgorithm(algorithm) { try ConvBackwardData(conv).forward([gy, w, x])[0] }
        // dX[n, c, iy, ix] = Σ gY[n, m, oy, ox] · W[m, c, ky, kx] over iy = oy − top + ky, ix = ox − left + kx.
        let (n, c, h, wd) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = (outShape[2], outShape[3])
        var expected = [Double](repeating: 0, count: x.count)
        let (g, k) = (gy.toFloats(), w.toFloats())
        for b in 0..<n { for m in 0..<outChannels { for oy in 0..<oh { for ox in 0..<ow {
            let v = Double(g[((b * outChannels + m) * oh + oy) * ow + ox])
            for ch in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                let (iy, ix) = (oy - pads[0] + ky, ox - pads[1] + kx)
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                expected[((b * c + ch) * h + iy) * wd + ix] += v * Double(k[((m * c + ch) * 3 + ky) * 3 + kx])
            } } }
        } } } }
        #expect(dx.shape == shape)
        #expect(Self.relativeError(dx.toFloats(), expected) < Self.tolerance(algorithm))
    }

    /// The cross-correlation of x (N, C, H, W) with w (M, C, 3, 3), in double.
    static func direct(_ x: Tensor, _ w: Tensor, pads: [Int]) -> [Double] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let m = w.shape[0]
        let (oh, ow) = (h + pads[0] + pads[2] - 2, wd + pads[1] + pads[3] - 2)
        let (xs, ws) = (x.toFloats(), w.toFloats())
        var y = [Double](repeating: 0, count: n * m * oh * ow)
        for b in 0..<n { for o in 0..<m { for oy in 0..<oh { for ox in 0..<ow {
            var s = 0.0
            for ch in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                let (iy, ix) = (oy - pads[0] + ky, ox - pads[1] + kx)
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                s += Double(xs[((b * c + ch) * h + iy) * wd + ix]) * Double(ws[((o * c + ch) * 3 + ky) * 3 + kx])
            } } }
            y[((b * m + o) * oh + oy) * ow + ox] = s
        } } } }
        return y
    }

    /// max |a − b| / max |b|.
    static func relativeError(_ a: [Float], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        let scale = b.map(Swift.abs).max() ?? 1
        return zip(a, b).map { Swift.abs(Double($0) - $1) }.max()! / Swift.max(scale, 1e-30)
    }
}
