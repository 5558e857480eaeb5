internal import CImageCodecs
import Foundation

/// PNG decoding and encoding with libpng.
///
/// Decoding gives what PIL's `Image.open(p).convert('RGB')` and `cv2.imread` give for 8-bit
/// files: palettes are expanded, grey is copied into R, G and B, alpha is dropped (not
/// composited), and colour-space chunks (gAMA, sRGB, iCCP, cHRM) are ignored. 16-bit samples
/// keep their high byte, as `cv2.imread` and PIL's RGB modes do. (PIL opens a 16-bit *grey*
/// PNG as mode `I;16` and its `convert('RGB')` then clips to 255; that quirk is not copied.)
enum PNGCodec {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func decode(_ bytes: [UInt8], source: String) throws -> RGBImage {
        try checkHeader(bytes, source: source)
        var reader = cam_png_reader()
        defer { cam_png_end(&reader) }
        return try bytes.withUnsafeBufferPointer { data -> RGBImage in
            var width: UInt32 = 0
            var height: UInt32 = 0
            guard cam_png_begin(&reader, data.baseAddress, data.count, &width, &height) == 0 else {
                throw CAMError(.invalidInput, "\(source): not a readable PNG (\(message(of: &reader)))")
            }
            let w = Int(width), h = Int(height)
            try RGBImage.validateSize(width: w, height: h, source: source)
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            let status = pixels.withUnsafeMutableBufferPointer { out in
                cam_png_finish(&reader, out.baseAddress, w, h)
            }
            guard status == 0 else {
                throw CAMError(.invalidInput, "\(source): corrupt PNG data (\(message(of: &reader)))")
            }
            return RGBImage(unchecked: w, h, pixels)
        }
    }

    /// An 8-bit RGB PNG of `image` (libpng's simplified writer; it also records an sRGB chunk).
    static func encode(_ image: RGBImage, destination: String) throws -> Data {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_RGB)
        let stride = Int32(image.width * 3)
        return try image.pixels.withUnsafeBufferPointer { src -> Data in
            var size = 0
            guard png_image_write_to_memory(&png, nil, &size, 0, src.baseAddress, stride, nil) != 0, size > 0 else {
                throw CAMError(.io, "\(destination): cannot encode PNG (\(imageMessage(&png)))")
            }
            var out = [UInt8](repeating: 0, count: size)
            let ok = out.withUnsafeMutableBytes { buffer in
                png_image_write_to_memory(&png, buffer.baseAddress, &size, 0, src.baseAddress, stride, nil)
            }
            guard ok != 0 else {
                throw CAMError(.io, "\(destination): cannot encode PNG (\(imageMessage(&png)))")
            }
            png_image_free(&png)
            return Data(out[0..<size])
        }
    }

    /// Validates the IHDR chunk (which must come first) before libpng allocates anything.
    static func checkHeader(_ bytes: [UInt8], source: String) throws {
        guard bytes.count >= 33 else {
            throw CAMError(.invalidInput, "\(source): PNG is truncated (\(bytes.count) bytes, no complete IHDR header)")
        }
        guard Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw CAMError(.invalidInput, "\(source): PNG does not start with an IHDR chunk")
        }
        func be(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        try RGBImage.validateSize(width: be(16), height: be(20), source: source)
    }

    private static func message(of reader: inout cam_png_reader) -> String {
        withUnsafeBytes(of: &reader.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "unknown libpng error" : String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func imageMessage(_ png: inout png_image) -> String {
        withUnsafeBytes(of: &png.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "unknown libpng error" : String(decoding: bytes, as: UTF8.self)
        }
    }
}
