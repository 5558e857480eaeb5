import Foundation

/// Reading and writing image files. The format is told by the file's first bytes, never by
/// its extension; writes are atomic (a temporary file renamed into place).
extension RGBImage {
    /// Reads a PNG or JPEG file as RGB (see `PNGCodec` and `JPEGCodec` notes: alpha dropped,
    /// grey replicated, 16-bit PNG reduced to its high byte, EXIF orientation not applied —
    /// all as `PIL.Image.open(path).convert('RGB')`).
    public static func load(path: String) throws -> RGBImage {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw CAMError(.io, "\(path): no such file")
        }
        guard !isFolder.boolValue, let data = FileContents.data(atPath: path) else {
            throw CAMError(.io, "\(path): cannot read file")
        }
        return try decode(data, source: path)
    }

    /// Decodes PNG or JPEG bytes; `source` names them in errors.
    public static func decode(_ data: Data, source: String) throws -> RGBImage {
        let bytes = [UInt8](data)
        if bytes.starts(with: PNGCodec.signature) {
            return try PNGCodec.decode(bytes, source: source)
        }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF {
            return try JPEGCodec.decode(bytes, source: source)
        }
        if bytes.isEmpty {
            throw CAMError(.invalidInput, "\(source): file is empty (expected a PNG or JPEG image)")
        }
        let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        throw CAMError(.invalidInput, "\(source): not a PNG or JPEG image (starts with bytes \(head))")
    }

    /// The image encoded as an 8-bit RGB PNG.
    public func pngData() throws -> Data {
        try PNGCodec.encode(self, destination: "PNG image")
    }

    /// The image encoded as a JPEG (4:2:0, accurate DCT). `quality` is 1…100.
    public func jpegData(quality: Int = 95) throws -> Data {
        try JPEGCodec.encode(self, quality: quality, destination: "JPEG image")
    }

    /// Writes the image as an 8-bit RGB PNG, atomically.
    public func write(png path: String) throws {
        try AtomicFile.write(PNGCodec.encode(self, destination: path), to: path)
    }

    /// Writes the image as a JPEG (4:2:0, accurate DCT; `quality` 1…100, default 95 as
    /// `cv2.imwrite`), atomically.
    public func write(jpeg path: String, quality: Int = 95) throws {
        try AtomicFile.write(JPEGCodec.encode(self, quality: quality, destination: path), to: path)
    }
}
