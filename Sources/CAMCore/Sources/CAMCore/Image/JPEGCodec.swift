internal import CImageCodecs
import Foundation

/// JPEG decoding and encoding with libjpeg-turbo's TurboJPEG API.
///
/// Decoding uses the accurate integer IDCT and smooth ("fancy") chroma upsampling, which are
/// libjpeg's defaults and so what PIL and `cv2.imread` use. The EXIF orientation tag is *not*
/// applied, matching `PIL.Image.open` (note that `cv2.imread` does rotate). Grey JPEGs become
/// R = G = B; CMYK/YCCK JPEGs are rejected. A file that ends early is an error, as in PIL;
/// other libjpeg warnings (e.g. extraneous bytes) are tolerated, as PIL and OpenCV do.
enum JPEGCodec {
    static func decode(_ bytes: [UInt8], source: String) throws -> RGBImage {
        guard let handle = tjInitDecompress() else {
            throw CAMError(.io, "\(source): cannot start a JPEG decoder")
        }
        defer { tjDestroy(handle) }
        return try bytes.withUnsafeBufferPointer { data -> RGBImage in
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, data.baseAddress, UInt(data.count), &width, &height,
                                      &subsampling, &colorspace) == 0 else {
                throw CAMError(.invalidInput, "\(source): not a readable JPEG (\(errorText(handle)))")
            }
            try RGBImage.validateSize(width: Int(width), height: Int(height), source: source)
            if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
                throw CAMError(.unsupported, "\(source): CMYK JPEGs are not supported (expected RGB/YCbCr or greyscale)")
            }
            let w = Int(width), h = Int(height)
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            let flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS
            let status = pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, data.baseAddress, UInt(data.count), out.baseAddress, width, width * 3,
                              height, Int32(TJPF_RGB.rawValue), flags)
            }
            if status != 0 {
                let text = errorText(handle)
                let fatal = tjGetErrorCode(handle) != Int32(TJERR_WARNING.rawValue)
                if fatal || text.localizedCaseInsensitiveContains("premature end of JPEG file") {
                    throw CAMError(.invalidInput, "\(source): corrupt or truncated JPEG (\(text))")
                }
            }
            return RGBImage(unchecked: w, h, pixels)
        }
    }

    /// A baseline JPEG of `image` with 4:2:0 chroma subsampling and the accurate DCT, which is
    /// what `cv2.imwrite` and PIL's `save` produce by default (at their default qualities of
    /// 95 and 75).
    static func encode(_ image: RGBImage, quality: Int, destination: String) throws -> Data {
        guard (1...100).contains(quality) else {
            throw CAMError(.usage, "\(destination): JPEG quality \(quality) is out of range (expected 1…100)")
        }
        guard let handle = tjInitCompress() else {
            throw CAMError(.io, "\(destination): cannot start a JPEG encoder")
        }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        defer { if let buffer { tjFree(buffer) } }
        let status = image.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(image.width), Int32(image.width * 3), Int32(image.height),
                        Int32(TJPF_RGB.rawValue), &buffer, &size, Int32(TJSAMP_420.rawValue), Int32(quality),
                        TJFLAG_ACCURATEDCT)
        }
        guard status == 0, let buffer else {
            throw CAMError(.io, "\(destination): cannot encode JPEG (\(errorText(handle)))")
        }
        return Data(bytes: buffer, count: Int(size))
    }

    private static func errorText(_ handle: tjhandle) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown libjpeg-turbo error" }
        return String(cString: text)
    }
}
