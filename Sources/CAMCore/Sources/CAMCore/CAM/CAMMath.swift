/// Tensor arithmetic that CAM methods share, so method plugins stay a few lines of math.
public enum CAMMath {
    /// Mean over the spatial axes of (N, C, h, w) → (N, C).
    public static func spatialMean(_ t: Tensor) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        let (n, c) = (t.shape[0], t.shape[1])
        let plane = t.shape[2] * t.shape[3]
        let out = Tensor(uninitialized: [n, c])
        let src = t.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
        for i in 0..<(n * c) {
            // In double: a float sum of ~10⁴ gradients of mixed sign loses ~10⁻⁴ of the mean.
            var acc: Double = 0
            for j in 0..<plane { acc += Double(src[i * plane + j]) }
            dst[i] = Float(acc / Double(plane))
        }
        return out
    }

    /// `Σ_c w[n, c] · A[n, c, :, :]` → (N, h, w).
    public static func weightedSum(_ activations: Tensor, weights: Tensor) throws -> Tensor {
        let a = activations
        guard a.rank == 4, weights.shape == [a.shape[0], a.shape[1]] else {
            throw CAMError(.runtime, "weights \(weights.shape) do not match activations \(a.shape)")
        }
        let (n, c, h, w) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        let out = Tensor(uninitialized: [n, h, w])
        for i in 0..<n {
            // (1 × C) · (C × hw)
            sgemm(m: 1, n: h * w, k: c, a: weights.floats.baseAddress! + i * c, lda: c,
                  b: a.floats.baseAddress! + i * c * h * w, ldb: h * w, c: out.mutableFloats.baseAddress! + i * h * w, ldc: h * w)
        }
        return out
    }

    /// `w[n, c] · A[n, c, :, :]` → (N, C, h, w).
    public static func scaleChannels(_ activations: Tensor, by weights: Tensor) throws -> Tensor {
        let a = activations
        guard a.rank == 4, weights.shape == [a.shape[0], a.shape[1]] else {
            throw CAMError(.runtime, "weights \(weights.shape) do not match activations \(a.shape)")
        }
        return try Binary.evaluate(.mul, a, weights.reshaped(to: weights.shape + [1, 1]))
    }

    /// Sum over the spatial axes of (N, C, h, w) → (N, C).
    public static func spatialSum(_ t: Tensor) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        return try sumToShape(t, [t.shape[0], t.shape[1], 1, 1]).reshaped(to: [t.shape[0], t.shape[1]])
    }

    /// Elementwise `f(a, b)` of two tensors of one shape.
    public static func combine(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) throws -> Tensor {
        guard a.shape == b.shape else { throw CAMError(.runtime, "shapes \(a.shape) and \(b.shape) differ") }
        return mapFloats(a, b, f)
    }

    /// Broadcasting product (e.g. (N, C, h, w) × (1, C, 1, 1)).
    public static func multiplyBroadcast(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try Binary.evaluate(.mul, a, b)
    }

    /// (N, C, H, W) → (N, H, W, C).
    public static func channelsLast(_ t: Tensor) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, H, W), got \(t.shape)") }
        return transpose(t, [0, 2, 3, 1])
    }

    /// (N, H, W, C) → (N, C, H, W).
    public static func channelsFirst(_ t: Tensor) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, H, W, C), got \(t.shape)") }
        return transpose(t, [0, 3, 1, 2])
    }

    /// Concatenation along the channel axis of (N, Cᵢ, H, W) tensors.
    public static func concatenateChannels(_ items: [Tensor]) throws -> Tensor {
        try concatenate(items, axis: 1)
    }

    /// upstream's `scale_accross_batch_and_channels`: every (N, C) plane min-max scaled to
    /// [0, 1], then resized to `size` with OpenCV's bilinear filter.
    public static func scaledChannels(_ t: Tensor, to size: (height: Int, width: Int)) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let out = Tensor(uninitialized: [n, c, size.height, size.width])
        let plane = h * w, outPlane = size.height * size.width
        let src = t.toFloats()
        for i in 0..<(n * c) {
            var p = Array(src[(i * plane)..<((i + 1) * plane)])
            p.withUnsafeMutableBufferPointer { CAMPostprocessing.minMaxNormalize($0) }
            let r = (h, w) == size ? p : try OpenCVResize.bilinear(p, width: w, height: h, toWidth: size.width, toHeight: size.height)
            (out.mutableFloats.baseAddress! + i * outPlane).update(from: r, count: outPlane)
        }
        return out
    }

    /// Σ_c of `scaledChannels(t, to: size)` → (N, H, W), computed as the resize of the sum of
    /// the min-max scaled planes: the bilinear resize is linear, so this is the same map with
    /// one resize per image instead of one per channel.
    public static func scaledChannelSum(_ t: Tensor, to size: (height: Int, width: Int)) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let plane = h * w
        let src = t.toFloats()
        let out = Tensor(uninitialized: [n, size.height, size.width])
        for i in 0..<n {
            var sum = [Float](repeating: 0, count: plane)
            for ch in 0..<c {
                var p = Array(src[((i * c + ch) * plane)..<((i * c + ch + 1) * plane)])
                p.withUnsafeMutableBufferPointer { CAMPostprocessing.minMaxNormalize($0) }
                for j in 0..<plane { sum[j] += p[j] }
            }
            let r = (h, w) == size ? sum : try OpenCVResize.bilinear(sum, width: w, height: h, toWidth: size.width, toHeight: size.height)
            (out.mutableFloats.baseAddress! + i * size.height * size.width).update(from: r, count: r.count)
        }
        return out
    }

    /// PyTorch's `UpsamplingBilinear2d` (align_corners=True) of (N, C, h, w) to `size`.
    public static func upsampleAlignCorners(_ t: Tensor, to size: (height: Int, width: Int)) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        let (planes, h, w) = (t.shape[0] * t.shape[1], t.shape[2], t.shape[3])
        let (oh, ow) = size
        func taps(_ n: Int, _ on: Int) -> [(Int, Int, Float)] {
            let scale: Float = on > 1 ? Float(n - 1) / Float(on - 1) : 0
            return (0..<on).map { d in
                let src = scale * Float(d)
                let i0 = Swift.min(Int(src), n - 1)
                return (i0, Swift.min(i0 + 1, n - 1), src - Float(i0))
            }
        }
        let ys = taps(h, oh), xs = taps(w, ow)
        let out = Tensor(uninitialized: [t.shape[0], t.shape[1], oh, ow])
        let src = t.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
        parallelEach(planes) { p in
            let s = src + p * h * w, d = dst + p * oh * ow
            for (oy, (y0, y1, ly)) in ys.enumerated() {
                for (ox, (x0, x1, lx)) in xs.enumerated() {
                    let top = (1 - lx) * s[y0 * w + x0] + lx * s[y0 * w + x1]
                    let bottom = (1 - lx) * s[y1 * w + x0] + lx * s[y1 * w + x1]
                    d[oy * ow + ox] = (1 - ly) * top + ly * bottom
                }
            }
        }
        return out
    }

    /// (N, C, h, w) resized to `size` plane by plane with OpenCV's bilinear filter (for
    /// upsampling, also what torchvision's antialiased bilinear `resize` computes).
    public static func resizeBilinear(_ t: Tensor, to size: (height: Int, width: Int)) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        let (planes, h, w) = (t.shape[0] * t.shape[1], t.shape[2], t.shape[3])
        let out = Tensor(uninitialized: [t.shape[0], t.shape[1], size.height, size.width])
        let values = t.toFloats()
        for p in 0..<planes {
            let r = try OpenCVResize.bilinear(Array(values[(p * h * w)..<((p + 1) * h * w)]), width: w, height: h,
                                              toWidth: size.width, toHeight: size.height)
            (out.mutableFloats.baseAddress! + p * r.count).update(from: r, count: r.count)
        }
        return out
    }

    /// The `height × width` window at (`top`, `left`) of every plane of (N, C, H, W).
    public static func crop(_ t: Tensor, top: Int, left: Int, height: Int, width: Int) throws -> Tensor {
        guard t.rank == 4, top >= 0, left >= 0, top + height <= t.shape[2], left + width <= t.shape[3] else {
            throw CAMError(.runtime, "cannot crop \(height)×\(width) at (\(top), \(left)) from \(t.shape)")
        }
        return try Slice().forward([t, Tensor(shape: [2], int64s: [Int64(top), Int64(left)]),
                                    Tensor(shape: [2], int64s: [Int64(top + height), Int64(left + width)]),
                                    Tensor(shape: [2], int64s: [2, 3])])[0]
    }

    /// Elementwise `f(a)`.
    public static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor { mapFloats(a, f) }

    /// Elementwise product of two tensors of one shape.
    public static func multiply(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw CAMError(.runtime, "shapes \(a.shape) and \(b.shape) differ") }
        return mapFloats(a, b, *)
    }

    /// Sum over the channel axis of (N, C, h, w) → (N, h, w).
    public static func channelSum(_ t: Tensor) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, h, w), got \(t.shape)") }
        let ones = Tensor(repeating: 1, shape: [t.shape[0], t.shape[1]])
        return try weightedSum(t, weights: ones)
    }
}
