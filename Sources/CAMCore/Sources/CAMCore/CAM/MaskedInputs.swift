/// Inputs masked by upsampled activation maps — what Score-CAM (and methods like it) run the
/// model on — built plane by plane on the runtime's threads.
extension CAMMath {
    /// The smallest and largest value of each (H, W) plane of an (N, C, H, W) tensor.
    public static func planeRanges(_ t: Tensor) throws -> [(min: Float, max: Float)] {
        guard t.rank == 4 else { throw CAMError(.runtime, "expected (N, C, H, W), got \(t.shape)") }
        let (planes, plane) = (t.shape[0] * t.shape[1], t.shape[2] * t.shape[3])
        var ranges = [(min: Float, max: Float)](repeating: (0, 0), count: planes)
        let src = t.floats.baseAddress!
        ranges.withUnsafeMutableBufferPointer { out in
            let out = out
            parallelEach(planes) { p in
                let s = src + p * plane
                var (lo, hi) = (s[0], s[0])
                for i in 1..<Swift.max(plane, 1) { lo = Swift.min(lo, s[i]); hi = Swift.max(hi, s[i]) }
                out[p] = (lo, hi)
            }
        }
        withExtendedLifetime(t) {}
        return ranges
    }

    /// `image` (C, H, W) masked by each chosen plane of `maps` (1, K, H, W), min-max scaled as
    /// upstream's Score-CAM scales them: image · (m − min) / (max − min + 1e-8). Returns
    /// (planes.count, C, H, W); `ranges` holds each plane's (min, max) (`planeRanges`).
    public static func maskedInputs(_ image: Tensor, maps: Tensor, planes: [Int], ranges: [(min: Float, max: Float)]) throws -> Tensor {
        guard image.rank == 3, maps.rank == 4, maps.shape[2] == image.shape[1], maps.shape[3] == image.shape[2] else {
            throw CAMError(.runtime, "masks \(maps.shape) do not fit an image \(image.shape)")
        }
        let (channels, plane) = (image.shape[0], image.shape[1] * image.shape[2])
        let out = Tensor(uninitialized: [planes.count, channels, image.shape[1], image.shape[2]])
        let (px, pm, po) = (image.floats.baseAddress!, maps.floats.baseAddress!, out.mutableFloats.baseAddress!)
        parallelEach(planes.count) { k in
            let m = pm + planes[k] * plane
            let (lo, hi) = ranges[planes[k]]
            let dst = po + k * channels * plane
            for p in 0..<plane {
                let scale = (m[p] - lo) / (hi - lo + 1e-8)
                for q in 0..<channels { dst[q * plane + p] = px[q * plane + p] * scale }
            }
        }
        withExtendedLifetime((image, maps)) {}
        return out
    }
}
