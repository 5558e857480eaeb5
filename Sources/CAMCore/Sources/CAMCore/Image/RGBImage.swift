/// An 8-bit RGB picture: `pixels` holds `height` rows of `width` pixels, each pixel three bytes
/// R, G, B (interleaved, HWC), which is what `np.asarray(PIL.Image.open(p).convert('RGB'))`
/// gives.
///
/// Grey and RGBA data are converted the way PIL's `convert('RGB')` does: grey is copied into R,
/// G and B; alpha is *dropped*, not composited (a transparent pixel keeps its stored colour).
public struct RGBImage: Sendable, Equatable {
    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `height * width * 3` bytes, row-major, R G B per pixel.
    public private(set) var pixels: [UInt8]

    /// The largest picture accepted: 178,956,970 pixels, the size at which PIL raises
    /// `DecompressionBombError`. Header sizes are checked against it before any allocation.
    public static let maxPixelCount = 178_956_970

    /// Wraps interleaved RGB bytes; throws unless `pixels.count == width * height * 3` and the
    /// size is positive and within `maxPixelCount`.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        try RGBImage.validateSize(width: width, height: height, source: "RGB image")
        guard pixels.count == width * height * 3 else {
            throw CAMError(.invalidInput, "RGB image: \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        }
        self.init(unchecked: width, height, pixels)
    }

    /// An image of one colour.
    public init(width: Int, height: Int, red: UInt8 = 0, green: UInt8 = 0, blue: UInt8 = 0) throws {
        try RGBImage.validateSize(width: width, height: height, source: "RGB image")
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            bytes[3 * i] = red
            bytes[3 * i + 1] = green
            bytes[3 * i + 2] = blue
        }
        self.init(unchecked: width, height, bytes)
    }

    /// Converts one grey byte per pixel to RGB (R = G = B = grey), as PIL's `convert('RGB')`.
    public init(width: Int, height: Int, grey: [UInt8]) throws {
        try RGBImage.validateSize(width: width, height: height, source: "grey image")
        guard grey.count == width * height else {
            throw CAMError(.invalidInput, "grey image: \(width)x\(height) needs \(width * height) bytes, got \(grey.count)")
        }
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<grey.count {
            bytes[3 * i] = grey[i]
            bytes[3 * i + 1] = grey[i]
            bytes[3 * i + 2] = grey[i]
        }
        self.init(unchecked: width, height, bytes)
    }

    /// Converts interleaved RGBA to RGB by dropping alpha, as PIL's `convert('RGB')` does
    /// (no compositing onto a background).
    public init(width: Int, height: Int, rgba: [UInt8]) throws {
        try RGBImage.validateSize(width: width, height: height, source: "RGBA image")
        guard rgba.count == width * height * 4 else {
            throw CAMError(.invalidInput, "RGBA image: \(width)x\(height) needs \(width * height * 4) bytes, got \(rgba.count)")
        }
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            bytes[3 * i] = rgba[4 * i]
            bytes[3 * i + 1] = rgba[4 * i + 1]
            bytes[3 * i + 2] = rgba[4 * i + 2]
        }
        self.init(unchecked: width, height, bytes)
    }

    /// For code in this module that has already checked the sizes.
    init(unchecked width: Int, _ height: Int, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The three channel values of the pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// The same picture with R and B swapped (RGB ↔ BGR), for OpenCV-style consumers.
    public func swappingRedBlue() -> RGBImage {
        var out = pixels
        var i = 0
        while i < out.count {
            out.swapAt(i, i + 2)
            i += 3
        }
        return RGBImage(unchecked: width, height, out)
    }

    /// Throws a `CAMError` naming `source` unless `width` and `height` are positive and their
    /// product is within `maxPixelCount`.
    static func validateSize(width: Int, height: Int, source: String) throws {
        guard width > 0, height > 0 else {
            throw CAMError(.invalidInput, "\(source): image size \(width)x\(height) is empty (expected positive width and height)")
        }
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, count <= maxPixelCount else {
            throw CAMError(.invalidInput, "\(source): image size \(width)x\(height) exceeds the limit of \(maxPixelCount) pixels")
        }
    }
}
