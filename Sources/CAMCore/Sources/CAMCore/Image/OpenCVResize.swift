/// `cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)`, reproduced bit for bit.
///
/// OpenCV maps destination pixel `d` to source coordinate `f = Float((d + 0.5) * scale - 0.5)`
/// (computed in double, stored as float) with `scale = 1 / (dstSize / srcSize)`, takes
/// `s = floor(f)` and the weights `(1 - (f - s), f - s)`. Columns outside the image are clamped
/// with weight `(1, 0)`; rows are clamped *index-wise* only (both taps may read the same edge
/// row with the fractional weights). For 8-bit images the weights are fixed point
/// (`INTER_RESIZE_COEF_BITS = 11`, rounded half to even), the horizontal pass keeps
/// `pixel * weight` as an integer and the vertical pass computes
/// `((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2`.
///
/// Special case, as in OpenCV: when an 8-bit image shrinks by exactly 2 on both sides
/// (`src == 2 * dst`), `INTER_LINEAR` is replaced by the fast 2×2 area average
/// `(a + b + c + d + 2) >> 2`. A resize to the same size is a copy. The float32 path is
/// described at `bilinear(float:...)`; both were checked against OpenCV 5.0.0.
public enum OpenCVResize {
    static let coefficientBits = 11
    static let coefficientScale: Float = 2048

    /// Per destination index along one axis: first source index, and the two weights.
    struct Taps {
        var index: [Int]
        var weight0: [Float]
        var weight1: [Float]
    }

    /// The coordinate mapping of `resize` for one axis. `clampWeights` is true for columns (the
    /// horizontal table sets the fraction to 0 outside the image) and false for rows.
    static func taps(source: Int, destination: Int, clampWeights: Bool) -> Taps {
        let inverseScale = Double(destination) / Double(source)
        let scale = 1.0 / inverseScale
        var taps = Taps(index: [], weight0: [], weight1: [])
        taps.index.reserveCapacity(destination)
        for d in 0..<destination {
            var f = Float((Double(d) + 0.5) * scale - 0.5)
            var s = Int(f.rounded(.down))
            f -= Float(s)
            if clampWeights {
                if s < 0 {
                    f = 0
                    s = 0
                }
                if s >= source - 1 {
                    f = 0
                    s = source - 1
                }
            }
            taps.index.append(s)
            taps.weight0.append(1 - f)
            taps.weight1.append(f)
        }
        return taps
    }

    static func fixedPoint(_ w: Float) -> Int {
        Int((w * coefficientScale).rounded(.toNearestOrEven))
    }

    @inline(__always) static func clamp(_ i: Int, _ n: Int) -> Int {
        i < 0 ? 0 : (i >= n ? n - 1 : i)
    }

    static func isHalving(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int) -> Bool {
        // OpenCV: scale = 1 / (dst / src) must equal the integer 2 within DBL_EPSILON on both axes.
        func two(_ s: Int, _ d: Int) -> Bool { abs(1.0 / (Double(d) / Double(s)) - 2.0) < Double.ulpOfOne }
        return two(sourceWidth, width) && two(sourceHeight, height)
    }

    // MARK: 8-bit, interleaved channels

    /// Resizes interleaved 8-bit data with `channels` channels per pixel.
    public static func bilinear(uint8 source: UnsafeBufferPointer<UInt8>, width: Int, height: Int, channels: Int,
                                toWidth: Int, toHeight: Int, into out: UnsafeMutableBufferPointer<UInt8>) {
        precondition(width > 0 && height > 0 && toWidth > 0 && toHeight > 0 && channels > 0)
        precondition(source.count >= width * height * channels && out.count >= toWidth * toHeight * channels)
        let cn = channels
        if width == toWidth && height == toHeight {
            _ = out.initialize(from: source)
            return
        }
        if isHalving(sourceWidth: width, sourceHeight: height, width: toWidth, height: toHeight) && cn != 2 {
            for y in 0..<toHeight {
                let r0 = 2 * y * width * cn, r1 = r0 + width * cn, o = y * toWidth * cn
                for x in 0..<toWidth {
                    for c in 0..<cn {
                        let i = 2 * x * cn + c
                        let sum = Int(source[r0 + i]) + Int(source[r0 + i + cn]) + Int(source[r1 + i]) + Int(source[r1 + i + cn])
                        out[o + x * cn + c] = UInt8(truncatingIfNeeded: (sum + 2) >> 2)
                    }
                }
            }
            return
        }
        let h = taps(source: width, destination: toWidth, clampWeights: true)
        let v = taps(source: height, destination: toHeight, clampWeights: false)
        let a0 = h.weight0.map(fixedPoint), a1 = h.weight1.map(fixedPoint)
        let b0 = v.weight0.map(fixedPoint), b1 = v.weight1.map(fixedPoint)
        let rowLength = toWidth * cn
        // Horizontal pass of every source row that some output row needs.
        var cache = [Int](repeating: 0, count: height * rowLength)
        var done = [Bool](repeating: false, count: height)
        func horizontal(_ sy: Int) {
            if done[sy] { return }
            done[sy] = true
            let row = sy * width * cn, base = sy * rowLength
            for x in 0..<toWidth {
                let s0 = h.index[x] * cn
                let s1 = Swift.min(h.index[x] + 1, width - 1) * cn
                for c in 0..<cn {
                    cache[base + x * cn + c] = Int(source[row + s0 + c]) * a0[x] + Int(source[row + s1 + c]) * a1[x]
                }
            }
        }
        for y in 0..<toHeight {
            let y0 = clamp(v.index[y], height), y1 = clamp(v.index[y] + 1, height)
            horizontal(y0)
            horizontal(y1)
            let r0 = y0 * rowLength, r1 = y1 * rowLength, o = y * rowLength
            let w0 = b0[y], w1 = b1[y]
            for i in 0..<rowLength {
                let value = (((w0 * (cache[r0 + i] >> 4)) >> 16) + ((w1 * (cache[r1 + i] >> 4)) >> 16) + 2) >> 2
                out[o + i] = UInt8(truncatingIfNeeded: value)
            }
        }
    }

    // MARK: float32, one channel

    /// Resizes a single-channel float32 map (row-major `height × width`) as `cv2.resize` does on
    /// a float32 array in OpenCV 5.0 (bit-exact against it):
    ///
    /// - Source at least 2×2: per axis, source coordinate `f = (d + 0.5) * (src / dst) - 0.5`
    ///   in double, `s = floor(f)`, fraction `t = Float(f - s)`, taps `s` and `s + 1` clamped to
    ///   the image; each pass computes the fused `fma(S[s+1] - S[s], t, S[s])`, horizontal pass
    ///   first. (OpenCV 4.x used the formula below for every size, and averaged 2×2 blocks
    ///   when halving; the results differ by about one float32 ulp.)
    /// - Source one pixel wide or high: OpenCV's generic path, as described for 8-bit images
    ///   but in float arithmetic: `S[s] * (1 - t) + S[s+1] * t` with `t` from
    ///   `Float((d + 0.5) * scale - 0.5)`, columns clamped with weight `(1, 0)`, rows clamped
    ///   index-wise.
    public static func bilinear(float source: UnsafeBufferPointer<Float>, width: Int, height: Int,
                                toWidth: Int, toHeight: Int, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(width > 0 && height > 0 && toWidth > 0 && toHeight > 0)
        precondition(source.count >= width * height && out.count >= toWidth * toHeight)
        if width == toWidth && height == toHeight {
            _ = out.initialize(from: source)
            return
        }
        if width == 1 || height == 1 {
            generic(float: source, width: width, height: height, toWidth: toWidth, toHeight: toHeight, into: out)
            return
        }
        func axis(_ source: Int, _ destination: Int) -> (first: [Int], second: [Int], fraction: [Float]) {
            let scale = Double(source) / Double(destination)
            var first = [Int](), second = [Int](), fraction = [Float]()
            for d in 0..<destination {
                let f = (Double(d) + 0.5) * scale - 0.5
                let s = f.rounded(.down)
                first.append(clamp(Int(s), source))
                second.append(clamp(Int(s) + 1, source))
                fraction.append(Float(f - s))
            }
            return (first, second, fraction)
        }
        let h = axis(width, toWidth)
        let v = axis(height, toHeight)
        var cache = [Float](repeating: 0, count: height * toWidth)
        var done = [Bool](repeating: false, count: height)
        func horizontal(_ sy: Int) {
            if done[sy] { return }
            done[sy] = true
            let row = sy * width, base = sy * toWidth
            for x in 0..<toWidth {
                let a = source[row + h.first[x]], b = source[row + h.second[x]]
                cache[base + x] = a.addingProduct(b - a, h.fraction[x])
            }
        }
        for y in 0..<toHeight {
            let y0 = v.first[y], y1 = v.second[y]
            horizontal(y0)
            horizontal(y1)
            let r0 = y0 * toWidth, r1 = y1 * toWidth, o = y * toWidth
            let t = v.fraction[y]
            for x in 0..<toWidth {
                let a = cache[r0 + x], b = cache[r1 + x]
                out[o + x] = a.addingProduct(b - a, t)
            }
        }
    }

    /// OpenCV's generic `resizeGeneric_` linear path on float32 (used by OpenCV 5 for sources
    /// with a side of one pixel).
    static func generic(float source: UnsafeBufferPointer<Float>, width: Int, height: Int,
                        toWidth: Int, toHeight: Int, into out: UnsafeMutableBufferPointer<Float>) {
        let h = taps(source: width, destination: toWidth, clampWeights: true)
        let v = taps(source: height, destination: toHeight, clampWeights: false)
        var cache = [Float](repeating: 0, count: height * toWidth)
        var done = [Bool](repeating: false, count: height)
        func horizontal(_ sy: Int) {
            if done[sy] { return }
            done[sy] = true
            let row = sy * width, base = sy * toWidth
            for x in 0..<toWidth {
                let s0 = h.index[x], s1 = Swift.min(h.index[x] + 1, width - 1)
                if s0 == s1 && h.weight1[x] == 0 {
                    cache[base + x] = source[row + s0]  // OpenCV's border columns: S[sx] * 1
                } else {
                    cache[base + x] = source[row + s0] * h.weight0[x] + source[row + s1] * h.weight1[x]
                }
            }
        }
        for y in 0..<toHeight {
            let y0 = clamp(v.index[y], height), y1 = clamp(v.index[y] + 1, height)
            horizontal(y0)
            horizontal(y1)
            let r0 = y0 * toWidth, r1 = y1 * toWidth, o = y * toWidth
            let w0 = v.weight0[y], w1 = v.weight1[y]
            for x in 0..<toWidth {
                out[o + x] = cache[r0 + x] * w0 + cache[r1 + x] * w1
            }
        }
    }

    /// `cv2.resize(map, (toWidth, toHeight))` for a float32 map stored row-major as
    /// `height × width` values.
    public static func bilinear(_ map: [Float], width: Int, height: Int, toWidth: Int, toHeight: Int) throws -> [Float] {
        guard width > 0, height > 0, toWidth > 0, toHeight > 0 else {
            throw CAMError(.invalidInput, "resize: sizes must be positive (got \(width)x\(height) → \(toWidth)x\(toHeight))")
        }
        guard map.count == width * height else {
            throw CAMError(.invalidInput, "resize: a \(width)x\(height) map needs \(width * height) values, got \(map.count)")
        }
        var out = [Float](repeating: 0, count: toWidth * toHeight)
        map.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                bilinear(float: src, width: width, height: height, toWidth: toWidth, toHeight: toHeight, into: dst)
            }
        }
        return out
    }
}

extension RGBImage {
    /// `cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)`, bit-exact.
    public func resizeBilinearOpenCV(width newWidth: Int, height newHeight: Int) throws -> RGBImage {
        try RGBImage.validateSize(width: newWidth, height: newHeight, source: "resize target")
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                OpenCVResize.bilinear(uint8: src, width: width, height: height, channels: 3,
                                      toWidth: newWidth, toHeight: newHeight, into: dst)
            }
        }
        return RGBImage(unchecked: newWidth, newHeight, out)
    }
}
