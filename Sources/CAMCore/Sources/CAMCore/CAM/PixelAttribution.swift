/// Pixel attributions (guided backpropagation's input gradients), shown as upstream shows them.
public enum PixelAttribution {
    /// upstream's `deprocess_image`: standardise, scale by 0.1, shift to 0.5, clip to [0, 1],
    /// ×255 — for an (H, W, C) attribution; grey (C = 1) becomes RGB.
    public static func deprocess(_ hwc: Tensor) throws -> RGBImage {
        guard hwc.rank == 3 else { throw CAMError(.runtime, "a pixel attribution must be (H, W, C), got \(hwc.shape)") }
        let (h, w, c) = (hwc.shape[0], hwc.shape[1], hwc.shape[2])
        let v = hwc.toFloats()
        let mean = v.reduce(0, +) / Float(v.count)
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(v.count)
        let std = variance.squareRoot()
        var pixels = [UInt8](repeating: 0, count: h * w * 3)
        for p in 0..<(h * w) {
            for ch in 0..<3 {
                let x = ((v[p * c + Swift.min(ch, c - 1)] - mean) / (std + 1e-5)) * 0.1 + 0.5
                pixels[p * 3 + ch] = UInt8(Swift.max(0, Swift.min(1, x)) * 255)
            }
        }
        return try RGBImage(width: w, height: h, pixels: pixels)
    }

    /// upstream's `cam_mask * gb`: each pixel's attribution scaled by the CAM value there.
    public static func weighted(_ hwc: Tensor, by map: [Float]) throws -> Tensor {
        let (h, w, c) = (hwc.shape[0], hwc.shape[1], hwc.shape[2])
        guard map.count == h * w else { throw CAMError(.runtime, "a \(h)×\(w) attribution needs a map of \(h * w) values, got \(map.count)") }
        let v = hwc.toFloats()
        return Tensor(shape: hwc.shape, floats: (0..<v.count).map { v[$0] * map[$0 / c] })
    }
}
