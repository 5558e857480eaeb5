import Foundation

/// upstream's picture of a deep feature factorization (`show_factorization_on_image` and
/// `create_labels_legend`): every pixel takes the colour of its dominant concept, as bright as
/// that concept's map is strong there, blended with the photo; beside it a legend of each
/// concept's top classes.
///
/// The blend is upstream's, step for step (colours from matplotlib's `gist_rainbow`, OpenCV's
/// 8-bit RGB↔HSV conversions, numpy's truncations). The legend is SwiftCAM's own drawing of the
/// same content (upstream renders it with matplotlib): one colour bar and the label lines per concept.
public enum FactorizationVisualization {
    // MARK: Colours

    /// matplotlib's `gist_rainbow` control points: (x, red, green, blue).
    static let gistRainbow: [(x: Double, r: Double, g: Double, b: Double)] = [
        (0.000, 1.00, 0.00, 0.16), (0.030, 1.00, 0.00, 0.00), (0.215, 1.00, 1.00, 0.00), (0.400, 0.00, 1.00, 0.00),
        (0.586, 0.00, 1.00, 1.00), (0.770, 0.00, 0.00, 1.00), (0.954, 1.00, 0.00, 1.00), (1.000, 1.00, 0.00, 0.75),
    ]

    /// Entry `index` of matplotlib's 256-entry lookup table of `gist_rainbow`.
    static func gistRainbowLUT(_ index: Int) -> (r: Double, g: Double, b: Double) {
        let n = 256
        if index <= 0 { let p = gistRainbow[0]; return (p.r, p.g, p.b) }
        if index >= n - 1 { let p = gistRainbow[gistRainbow.count - 1]; return (p.r, p.g, p.b) }
        let x = Double(index) * (1.0 / Double(n - 1)) // numpy's linspace
        let hi = gistRainbow.firstIndex { $0.x >= x }! // searchsorted, side='left'
        let (p0, p1) = (gistRainbow[hi - 1], gistRainbow[hi])
        let d = (x - p0.x) / (p1.x - p0.x)
        func lerp(_ a: Double, _ b: Double) -> Double { Swift.min(Swift.max(d * (b - a) + a, 0), 1) }
        return (lerp(p0.r, p1.r), lerp(p0.g, p1.g), lerp(p0.b, p1.b))
    }

    /// upstream's default colours: `gist_rainbow(i / count)` for i = 0…count−1, as 8-bit RGB
    /// (`np.uint8(colour · 255)`).
    public static func colors(count: Int) -> [(r: UInt8, g: UInt8, b: UInt8)] {
        (0..<count).map { i in
            let x = Double(i) * (1.0 / Double(count)) // np.arange(0, 1, 1/count)
            let c = gistRainbowLUT(Int(x * 256))
            return (UInt8(c.r * 255), UInt8(c.g * 255), UInt8(c.b * 255))
        }
    }

    // MARK: OpenCV's 8-bit HSV

    /// `cv2.cvtColor(…, COLOR_RGB2HSV)` for one 8-bit pixel: H in 0…179, S and V in 0…255.
    public static func rgbToHSV(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> (h: UInt8, s: UInt8, v: UInt8) {
        let shift = 12
        let (r, g, b) = (Int(r), Int(g), Int(b))
        let v = Swift.max(r, g, b), vmin = Swift.min(r, g, b)
        let diff = v - vmin
        let sdiv = v == 0 ? 0 : Int(((Double(255 << shift)) / Double(v)).rounded(.toNearestOrEven))
        let hdiv = diff == 0 ? 0 : Int((Double(180 << shift) / (6.0 * Double(diff))).rounded(.toNearestOrEven))
        let s = (diff * sdiv + (1 << (shift - 1))) >> shift
        let vr = v == r ? -1 : 0, vg = v == g ? -1 : 0
        var h = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + (~vg & (r - g + 4 * diff))))
        h = (h * hdiv + (1 << (shift - 1))) >> shift
        if h < 0 { h += 180 }
        return (UInt8(Swift.min(h, 255)), UInt8(s), UInt8(v))
    }

    /// `cv2.cvtColor(…, COLOR_HSV2RGB)` for one 8-bit pixel (H in 0…179), as OpenCV's vectorised
    /// path computes it (every pixel of an image but the last `count mod 4·lanes`, which OpenCV's
    /// scalar tail rounds instead): S and V scaled by 1/255, the sector and fraction of H·6/180,
    /// the four candidate values, and the result times 255 *truncated* to 8 bits.
    public static func hsvToRGB(_ h: UInt8, _ s: UInt8, _ v: UInt8) -> (r: UInt8, g: UInt8, b: UInt8) {
        let sf = Float(s) * (1 / 255 as Float), vf = Float(v) * (1 / 255 as Float)
        var hf = Float(h) * (6 / 180 as Float)
        let pre = hf.rounded(.towardZero)
        hf -= pre
        let sector = pre - (pre * (1 / 6 as Float)).rounded(.towardZero) * 6
        let tab0 = vf, tab1 = vf * (1 - sf), tab2 = vf * (1 - sf * hf), tab3 = vf * (1 - sf * (1 - hf))
        let b = sector < 2 ? tab1 : sector == 2 ? tab3 : sector <= 4 ? tab0 : tab2
        let g = sector < 1 ? tab3 : sector <= 2 ? tab0 : sector == 3 ? tab2 : tab1
        let r = sector < 1 ? tab0 : sector == 1 ? tab2 : sector <= 3 ? tab1 : sector == 4 ? tab3 : tab0
        func byte(_ x: Float) -> UInt8 { UInt8(Swift.min(Swift.max((x * 255).rounded(.towardZero), 0), 255)) }
        return (byte(r), byte(g), byte(b))
    }

    // MARK: Pictures

    /// upstream's `show_factorization_on_image(rgb / 255, maps, image_weight=imageWeight)` without
    /// the legend. `maps` is (K, H, W) in [0, 1] at the image's size (one image's
    /// `batch_explanations`); each pixel shows its dominant concept's colour with V = 255·map.
    public static func overlay(image: RGBImage, maps: Tensor, imageWeight: Double = 0.5,
                               colors given: [(r: UInt8, g: UInt8, b: UInt8)]? = nil) throws -> RGBImage {
        guard maps.rank == 3, maps.shape[1] == image.height, maps.shape[2] == image.width else {
            throw CAMError(.invalidInput, "factorization overlay: maps \(maps.shape) for a \(image.width)×\(image.height) picture")
        }
        guard (0...1).contains(imageWeight) else { throw CAMError(.usage, "image weight \(imageWeight) is outside [0, 1]") }
        let k = maps.shape[0], plane = image.width * image.height
        let colors = given ?? self.colors(count: k)
        guard colors.count >= k else { throw CAMError(.usage, "factorization overlay: \(colors.count) colours for \(k) concepts") }
        let hsv = colors.prefix(k).map { rgbToHSV($0.r, $0.g, $0.b) }
        let m = maps.floats
        let maskWeight = Float(1 - imageWeight)
        var out = [UInt8](repeating: 0, count: plane * 3)
        image.pixels.withUnsafeBufferPointer { px in
            for p in 0..<plane {
                // argmax over concepts (the first on ties), its map value as V.
                var best = 0
                for c in 1..<Swift.max(k, 1) where m[c * plane + p] > m[best * plane + p] { best = c }
                let scaled = 255 * m[best * plane + p]
                let v = scaled.isNaN ? 0 : UInt8(Swift.min(Swift.max(scaled, 0), 255))
                let rgb = hsvToRGB(hsv[best].h, hsv[best].s, v)
                for (ch, value) in [rgb.r, rgb.g, rgb.b].enumerated() {
                    let mask = Float(value) / 255
                    let blended = Double(px[p * 3 + ch]) / 255 * imageWeight + Double(mask * maskWeight)
                    out[p * 3 + ch] = UInt8(Swift.min(Swift.max(blended * 255, 0), 255))
                }
            }
        }
        return try RGBImage(width: image.width, height: image.height, pixels: out)
    }

    /// upstream's `create_labels_legend`: for each concept its `topK` classes by score, each
    /// `"<first three comma-separated parts of the name>:<score, 2 decimals>"`, one per line.
    /// `scores` is (K, classes) — upstream passes the softmax of the concept outputs.
    public static func labels(scores: Tensor, names: [String]?, topK: Int = 2) -> [String] {
        guard scores.rank == 2 else { return [] }
        let (k, classes) = (scores.shape[0], scores.shape[1])
        let s = scores.floats
        return (0..<k).map { c in
            let row = Array(s[(c * classes)..<((c + 1) * classes)])
            // np.argsort(…)[::-1]: best first; on ties the higher index first.
            let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 > $1 }
            return order.prefix(topK).map { i in
                let name = names.flatMap { i < $0.count ? $0[i] : nil } ?? "class \(i)"
                let short = name.split(separator: ",", omittingEmptySubsequences: false).prefix(3).joined(separator: ",")
                return "\(short):\(String(format: "%.2f", row[i]))"
            }.joined(separator: "\n")
        }
    }

    /// The legend: on white, one colour bar per concept followed by its label lines. At least
    /// `height` high (taller when the labels need it), `width` wide; long lines are cut.
    public static func legend(width: Int, height: Int, labels: [String], colors given: [(r: UInt8, g: UInt8, b: UInt8)]? = nil) throws -> RGBImage {
        let colors = given ?? self.colors(count: labels.count)
        let scale = Swift.max(1, height / 256)
        let margin = 4 * scale, bar = Swift.max(16, width / 8), thickness = Swift.max(2, 5 * height / 256)
        let lines = labels.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        let lineHeight = BitmapFont.lineHeight * scale
        let needed = margin + lines.reduce(0) { $0 + Swift.max(1, $1.count) * lineHeight + margin }
        let h = Swift.max(height, needed)
        var pixels = [UInt8](repeating: 255, count: width * h * 3)
        let textX = margin + bar + margin
        let maxChars = Swift.max(1, (width - textX - margin + scale) / (BitmapFont.advance * scale))
        var y = margin
        for (i, entry) in lines.enumerated() {
            let c = colors[i % colors.count]
            let barY = y + (BitmapFont.glyphHeight * scale - thickness) / 2 - scale
            for yy in Swift.max(0, barY)..<Swift.min(h, barY + thickness) {
                for xx in margin..<Swift.min(width, margin + bar) {
                    let p = (yy * width + xx) * 3
                    pixels[p] = c.r
                    pixels[p + 1] = c.g
                    pixels[p + 2] = c.b
                }
            }
            for line in entry {
                let text = line.unicodeScalars.count > maxChars ? String(String.UnicodeScalarView(line.unicodeScalars.prefix(Swift.max(1, maxChars - 2)))) + ".." : line
                BitmapFont.draw(text, into: &pixels, width: width, height: h, x: textX, y: y, scale: scale, color: (0, 0, 0))
                y += lineHeight
            }
            if entry.isEmpty { y += lineHeight }
            y += margin
        }
        return try RGBImage(width: width, height: h, pixels: pixels)
    }

    /// Pictures side by side, top-aligned; shorter ones are padded with white below.
    public static func sideBySide(_ images: [RGBImage]) throws -> RGBImage {
        let h = images.map(\.height).max() ?? 0, w = images.reduce(0) { $0 + $1.width }
        var pixels = [UInt8](repeating: 255, count: w * h * 3)
        var x0 = 0
        for im in images {
            im.pixels.withUnsafeBufferPointer { src in
                for y in 0..<im.height {
                    for x in 0..<im.width {
                        for c in 0..<3 { pixels[(y * w + x0 + x) * 3 + c] = src[(y * im.width + x) * 3 + c] }
                    }
                }
            }
            x0 += im.width
        }
        return try RGBImage(width: w, height: h, pixels: pixels)
    }
}
