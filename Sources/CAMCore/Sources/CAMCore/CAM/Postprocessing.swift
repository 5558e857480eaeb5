/// upstream's post-processing of raw maps, step for step:
/// per layer `scale_cam_image(max(raw, 0), input size)` (min-max, then OpenCV bilinear
/// resize), then over layers `max(·, 0)`, mean, and min-max again.
public enum CAMPostprocessing {
    /// upstream's min-max: `(x − min) / (1e-7 + max(x − min))`, per image, in place.
    public static func minMaxNormalize(_ map: UnsafeMutableBufferPointer<Float>) {
        guard let lo = map.min() else { return }
        var hi: Float = -.infinity
        for i in map.indices { map[i] -= lo; hi = Swift.max(hi, map[i]) }
        let d = 1e-7 + hi
        for i in map.indices { map[i] /= d }
    }

    /// One layer: (N, h, w) raw → (N, H, W) in [0, 1].
    public static func scaleLayer(_ raw: Tensor, to size: (height: Int, width: Int)) throws -> Tensor {
        guard raw.rank == 3 else { throw CAMError(.runtime, "a raw CAM must be (N, h, w), got \(raw.shape)") }
        let (n, h, w) = (raw.shape[0], raw.shape[1], raw.shape[2])
        let out = Tensor(uninitialized: [n, size.height, size.width])
        for i in 0..<n {
            var plane = (0..<(h * w)).map { Swift.max(raw.floats[i * h * w + $0], 0) }
            plane.withUnsafeMutableBufferPointer { minMaxNormalize($0) }
            let resized = try OpenCVResize.bilinear(plane, width: w, height: h, toWidth: size.width, toHeight: size.height)
            (out.mutableFloats.baseAddress! + i * size.height * size.width).update(from: resized, count: resized.count)
        }
        return out
    }

    /// Per-image min-max of (N, H, W) maps (upstream's `scale_cam_image` without a resize).
    public static func normalize(_ maps: Tensor) -> Tensor {
        let out = maps.copy()
        let n = out.shape[0], plane = out.count / Swift.max(n, 1)
        let p = out.mutableFloats
        for i in 0..<n { minMaxNormalize(UnsafeMutableBufferPointer(rebasing: p[(i * plane)..<((i + 1) * plane)])) }
        return out
    }

    /// Several scaled layers (each (N, H, W)) → the final (N, H, W) maps.
    public static func aggregate(_ layers: [Tensor]) throws -> Tensor {
        guard let first = layers.first else { throw CAMError(.runtime, "no target layers to aggregate") }
        let out = Tensor(zeros: first.shape)
        let po = out.mutableFloats
        for l in layers {
            guard l.shape == first.shape else { throw CAMError(.runtime, "layer maps differ in shape: \(l.shape) vs \(first.shape)") }
            for i in po.indices { po[i] += Swift.max(l.floats[i], 0) }
        }
        let (n, plane) = (first.shape[0], first.count / Swift.max(first.shape[0], 1))
        for i in 0..<n {
            let slice = UnsafeMutableBufferPointer(rebasing: po[(i * plane)..<((i + 1) * plane)])
            for j in slice.indices { slice[j] /= Float(layers.count) }
            minMaxNormalize(slice)
        }
        return out
    }
}
