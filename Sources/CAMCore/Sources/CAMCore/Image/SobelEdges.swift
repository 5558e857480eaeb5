/// upstream's `sobel_cam`: OpenCV's grey conversion, 3×3 Sobel derivatives in x and y
/// (reflect-101 borders), their absolute values saturated to 8 bits, averaged with
/// `addWeighted(0.5, 0.5)` — an edge map, the baseline CAM metrics compare against.
public enum SobelEdges {
    /// The 8-bit edge map (height × width), as `sobel_cam(rgb)` returns it.
    public static func map(_ image: RGBImage) -> [UInt8] {
        let (w, h) = (image.width, image.height)
        // cv2.COLOR_RGB2GRAY on 8 bits: 15-bit fixed-point weights, rounded (checked against
        // OpenCV on all 2^24 colours).
        var grey = [Int](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<(w * h) {
                grey[i] = (Int(p[3 * i]) * 9798 + Int(p[3 * i + 1]) * 19235 + Int(p[3 * i + 2]) * 3735 + (1 << 14)) >> 15
            }
        }
        var out = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            let ys = [reflect101(y - 1, h), y, reflect101(y + 1, h)]
            for x in 0..<w {
                let xs = [reflect101(x - 1, w), x, reflect101(x + 1, w)]
                func g(_ r: Int, _ c: Int) -> Int { grey[ys[r] * w + xs[c]] }
                let gx = (g(0, 2) - g(0, 0)) + 2 * (g(1, 2) - g(1, 0)) + (g(2, 2) - g(2, 0))
                let gy = (g(2, 0) - g(0, 0)) + 2 * (g(2, 1) - g(0, 1)) + (g(2, 2) - g(0, 2))
                let ax = Swift.min(abs(gx), 255), ay = Swift.min(abs(gy), 255)
                // saturate_cast<uchar>(0.5·a + 0.5·b): round half to even.
                out[y * w + x] = UInt8((Float(ax) * 0.5 + Float(ay) * 0.5).rounded(.toNearestOrEven))
            }
        }
        return out
    }
}
