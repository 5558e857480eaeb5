/// `PIL.Image.resize(size, Image.BICUBIC)` for 8-bit RGB, reproduced bit for bit.
///
/// Pillow's `ImagingResample` is a separable convolution of two passes, each rounding to
/// 8 bits. Each output pixel `x` is centred at source
/// coordinate `(x + 0.5) * scale` with `scale = inSize / outSize`; when shrinking, the kernel
/// is stretched by `scale` (support `2 * scale`, antialiasing). The bicubic kernel has
/// `a = -0.5`. Weights are computed in double, normalised to sum 1, converted to fixed point
/// with `PRECISION_BITS = 22` (rounded half away from zero), accumulated in integers starting
/// at `1 << 21`, shifted right by 22 and clamped to 0…255. A pass whose size does not change
/// is skipped, as in Pillow.
public enum PILResize {
    static let precisionBits = 32 - 8 - 2

    static func bicubic(_ value: Double) -> Double {
        let a = -0.5
        let x = value < 0 ? -value : value
        if x < 1.0 {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
        }
        if x < 2.0 {
            return (((x - 5) * x + 8) * x - 4) * a
        }
        return 0.0
    }

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis.
    struct Coefficients {
        var kernelSize: Int
        var first: [Int]
        var count: [Int]
        var weights: [Int]   // outSize × kernelSize fixed-point weights
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let support0 = 2.0
        let scale = Double(Float(inSize) - Float(0)) / Double(outSize)
        let filterScale = scale < 1.0 ? 1.0 : scale
        let support = support0 * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var result = Coefficients(kernelSize: kernelSize, first: [], count: [],
                                  weights: [Int](repeating: 0, count: outSize * kernelSize))
        var k = [Double](repeating: 0, count: kernelSize)
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var ww = 0.0
            let ss = 1.0 / filterScale
            var xmin = Int(center - support + 0.5)   // C cast: truncation toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            for x in 0..<kernelSize { k[x] = 0 }
            for x in 0..<Swift.max(xmax, 0) {
                let w = bicubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<Swift.max(xmax, 0) where ww != 0.0 {
                k[x] /= ww
            }
            let one = Double(1 << precisionBits)
            for x in 0..<kernelSize {
                let v = k[x]
                result.weights[xx * kernelSize + x] = v < 0 ? Int(-0.5 + v * one) : Int(0.5 + v * one)
            }
            result.first.append(xmin)
            result.count.append(Swift.max(xmax, 0))
        }
        return result
    }

    @inline(__always) static func clip8(_ value: Int) -> UInt8 {
        let shifted = value >> precisionBits
        return shifted < 0 ? 0 : (shifted > 255 ? 255 : UInt8(shifted))
    }

    /// Resizes interleaved 8-bit data with `channels` channels per pixel.
    public static func bicubic(uint8 source: [UInt8], width: Int, height: Int, channels: Int,
                               toWidth: Int, toHeight: Int) -> [UInt8] {
        precondition(width > 0 && height > 0 && toWidth > 0 && toHeight > 0 && channels > 0)
        precondition(source.count == width * height * channels)
        let cn = channels
        // Pillow 13: "If height is being scaled down more than twice the amount the width is,
        // run the vertical pass first" (older Pillow always ran the horizontal pass first).
        let horizontalFirst = !((height - toHeight) > 0 && (height - toHeight) > (width - toWidth) * 2)
        var current = source
        var currentWidth = width, currentHeight = height
        func horizontalPass() {
            guard toWidth != currentWidth else { return }
            current = horizontal(current, width: currentWidth, height: currentHeight, channels: cn, toWidth: toWidth)
            currentWidth = toWidth
        }
        func verticalPass() {
            guard toHeight != currentHeight else { return }
            current = vertical(current, width: currentWidth, height: currentHeight, channels: cn, toHeight: toHeight)
            currentHeight = toHeight
        }
        if horizontalFirst {
            horizontalPass()
            verticalPass()
        } else {
            verticalPass()
            horizontalPass()
        }
        return current
    }

    static func horizontal(_ source: [UInt8], width: Int, height: Int, channels cn: Int, toWidth: Int) -> [UInt8] {
        let half = 1 << (precisionBits - 1)
        let c = coefficients(inSize: width, outSize: toWidth)
        var out = [UInt8](repeating: 0, count: toWidth * height * cn)
        for y in 0..<height {
            let row = y * width * cn, orow = y * toWidth * cn
            for x in 0..<toWidth {
                let first = c.first[x], n = c.count[x], kb = x * c.kernelSize
                for ch in 0..<cn {
                    var sum = half
                    for i in 0..<n {
                        sum += Int(source[row + (first + i) * cn + ch]) * c.weights[kb + i]
                    }
                    out[orow + x * cn + ch] = clip8(sum)
                }
            }
        }
        return out
    }

    static func vertical(_ source: [UInt8], width: Int, height: Int, channels cn: Int, toHeight: Int) -> [UInt8] {
        let half = 1 << (precisionBits - 1)
        let c = coefficients(inSize: height, outSize: toHeight)
        let rowLength = width * cn
        var out = [UInt8](repeating: 0, count: toHeight * rowLength)
        for y in 0..<toHeight {
            let first = c.first[y], n = c.count[y], kb = y * c.kernelSize
            let orow = y * rowLength
            for i in 0..<rowLength {
                var sum = half
                for j in 0..<n {
                    sum += Int(source[(first + j) * rowLength + i]) * c.weights[kb + j]
                }
                out[orow + i] = clip8(sum)
            }
        }
        return out
    }
}

extension RGBImage {
    /// `PIL.Image.resize((width, height), Image.BICUBIC)` on an RGB image, bit-exact
    /// (antialiased when shrinking).
    public func resizeBicubicPIL(width newWidth: Int, height newHeight: Int) throws -> RGBImage {
        try RGBImage.validateSize(width: newWidth, height: newHeight, source: "resize target")
        let out = PILResize.bicubic(uint8: pixels, width: width, height: height, channels: 3,
                                    toWidth: newWidth, toHeight: newHeight)
        return RGBImage(unchecked: newWidth, newHeight, out)
    }
}
