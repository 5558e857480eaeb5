import Foundation

/// `cv2.GaussianBlur(map, (k, k), sigma)` on a float32 map: OpenCV's float kernel (computed in
/// double, normalised, stored as float32), applied separably with reflect-101 borders.
public enum GaussianBlur {
    public static func kernel(size: Int, sigma: Double) -> [Float] {
        let c = Double(size - 1) / 2
        let raw = (0..<size).map { exp(-(Double($0) - c) * (Double($0) - c) / (2 * sigma * sigma)) }
        let sum = raw.reduce(0, +)
        return raw.map { Float($0 / sum) }
    }

    public static func blur(_ map: [Float], width w: Int, height h: Int, size: Int, sigma: Double) -> [Float] {
        let k = kernel(size: size, sigma: sigma)
        let r = size / 2
        var rows = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for j in 0..<size { acc += k[j] * map[y * w + reflect101(x + j - r, w)] }
                rows[y * w + x] = acc
            }
        }
        var out = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for j in 0..<size { acc += k[j] * rows[reflect101(y + j - r, h) * w + x] }
                out[y * w + x] = acc
            }
        }
        return out
    }
}
