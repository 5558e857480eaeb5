/// TEMPORARY until the image module lands: OpenCV INTER_LINEAR on a float map.
enum ImageResize {
    static func resizeLinear(_ src: [Float], height h: Int, width w: Int, toHeight oh: Int, toWidth ow: Int) -> [Float] {
        func taps(_ n: Int, _ on: Int) -> [(Int, Int, Float)] {
            let scale = Double(n) / Double(on)
            return (0..<on).map { d in
                var f = (Double(d) + 0.5) * scale - 0.5
                var s = Int(f.rounded(.down))
                f -= Double(s)
                if s < 0 { s = 0; f = 0 }
                if s >= n - 1 { s = n - 1; f = 0 }
                return (s, Swift.min(s + 1, n - 1), Float(f))
            }
        }
        let xs = taps(w, ow), ys = taps(h, oh)
        var out = [Float](repeating: 0, count: oh * ow)
        for (oy, (y0, y1, fy)) in ys.enumerated() {
            for (ox, (x0, x1, fx)) in xs.enumerated() {
                let r0 = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx
                let r1 = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx
                out[oy * ow + ox] = r0 * (1 - fy) + r1 * fy
            }
        }
        return out
    }
}
