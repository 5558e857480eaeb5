/// Boxes drawn on a picture (detections on a CAM overlay): a rectangle outline in a colour per
/// class and, above it, a label tag ("table 0.97") in a small built-in bitmap font.
extension RGBImage {
    /// The picture with `boxes` drawn on it. Coordinates are in this picture's pixels
    /// (x1, y1, x2, y2); parts outside the picture are clipped. `thickness` nil picks one from
    /// the picture's size.
    public func drawing(_ boxes: [DetectionBox], thickness: Int? = nil, labels: Bool = true) -> RGBImage {
        var px = pixels
        let (w, h) = (width, height)
        let t = thickness ?? Swift.max(1, Swift.min(w, h) / 200)
        let scale = Swift.max(1, (Swift.min(w, h) + 200) / 400)
        func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)) {
            let (a, b) = (Swift.max(0, x0), Swift.max(0, y0)), (e, f) = (Swift.min(w, x1), Swift.min(h, y1))
            guard a < e, b < f else { return }
            for y in b..<f {
                for x in a..<e {
                    let i = (y * w + x) * 3
                    px[i] = c.0; px[i + 1] = c.1; px[i + 2] = c.2
                }
            }
        }
        for box in boxes {
            guard box.box.count == 4, box.box.allSatisfy({ $0.isFinite }) else { continue }
            let c = BoxPalette.colour(box.classIndex)
            let x0 = Int(box.box[0].rounded()), y0 = Int(box.box[1].rounded())
            let x1 = Int(box.box[2].rounded()), y1 = Int(box.box[3].rounded())
            fill(x0 - t / 2, y0 - t / 2, x1 + (t + 1) / 2, y0 + (t + 1) / 2, c)
            fill(x0 - t / 2, y1 - t / 2, x1 + (t + 1) / 2, y1 + (t + 1) / 2, c)
            fill(x0 - t / 2, y0 - t / 2, x0 + (t + 1) / 2, y1 + (t + 1) / 2, c)
            fill(x1 - t / 2, y0 - t / 2, x1 + (t + 1) / 2, y1 + (t + 1) / 2, c)
            guard labels else { continue }
            let text = "\(box.label ?? "class \(box.classIndex)") \(String(Int((box.score * 100).rounded())))%"
            let tagH = (BitmapFont.glyphHeight + 2) * scale
            let tagW = BitmapFont.width(of: text, scale: scale) + 2 * scale
            var tx = x0 - t / 2, ty = y0 - t / 2 - tagH
            if ty < 0 { ty = y0 + (t + 1) / 2 }  // no room above: inside the box
            if tx + tagW > w { tx = Swift.max(0, w - tagW) }
            fill(tx, ty, tx + tagW, ty + tagH, c)
            let ink: (UInt8, UInt8, UInt8) = BoxPalette.isLight(c) ? (0, 0, 0) : (255, 255, 255)
            BitmapFont.draw(text, into: &px, width: w, height: h, x: tx + scale, y: ty + scale, scale: scale, color: ink)
        }
        return RGBImage(unchecked: w, h, px)
    }
}

/// Distinct colours per class (matplotlib's tab10, then tab20's light shades).
enum BoxPalette {
    static let colours: [(UInt8, UInt8, UInt8)] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
        (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
        (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
    ]
    static func colour(_ k: Int) -> (UInt8, UInt8, UInt8) { colours[((k % colours.count) + colours.count) % colours.count] }
    static func isLight(_ c: (UInt8, UInt8, UInt8)) -> Bool { 0.299 * Double(c.0) + 0.587 * Double(c.1) + 0.114 * Double(c.2) > 150 }
}
