import CAMCore
import Foundation
import Testing

@Suite("Image codecs")
struct CodecTests {
    @Test("PNG and JPEG files decode as PIL's open().convert('RGB')",
          arguments: ["rgb.png", "grey.png", "rgba.png", "grey_alpha.png", "palette.png", "bilevel.png",
                      "rgb16.png", "colour420.jpg", "grey.jpg"])
    func decodesLikePIL(name: String) throws {
        let image = try RGBImage.load(path: ImageFixtures.localPath(name))
        let expected = try ImageFixtures.image(ImageFixtures.localPath("decoded_" + name.replacingOccurrences(of: ".", with: "_") + ".npy"))
        #expect(image.width == expected.width && image.height == expected.height)
        let (maxAbs, differing) = ImageFixtures.compare(image.pixels, expected.pixels)
        print("measure: decode \(name): max |Δ| \(maxAbs), differing bytes \(differing) of \(image.pixels.count)")
        #expect(differing == 0)
    }

    @Test("EXIF orientation is not applied (as PIL.Image.open)")
    func exifOrientationIgnored() throws {
        let tagged = try RGBImage.load(path: ImageFixtures.localPath("exif_rotate.jpg"))
        let plain = try ImageFixtures.image(ImageFixtures.localPath("decoded_colour420_jpg.npy"))
        #expect(tagged == plain)
    }

    @Test("PNG round trip is lossless and atomic")
    func pngRoundTrip() throws {
        let original = try ImageFixtures.image(ImageFixtures.localPath("overlay_img.npy"))
        let folder = try ImageFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/sub/out.png"
        try original.write(png: path)
        #expect(try RGBImage.load(path: path) == original)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder + "/sub")
        #expect(leftovers == ["out.png"])
    }

    @Test("JPEG round trip stays close")
    func jpegRoundTrip() throws {
        let original = try ImageFixtures.image(ImageFixtures.localPath("decoded_colour420_jpg.npy"))
        let folder = try ImageFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/out.jpg"
        try original.write(jpeg: path, quality: 100)
        let back = try RGBImage.load(path: path)
        #expect(back.width == original.width && back.height == original.height)
        let (maxAbs, _) = ImageFixtures.compare(back.pixels, original.pixels)
        #expect(maxAbs <= 24)
        #expect(throws: CAMError.self) { try original.write(jpeg: folder + "/bad.jpg", quality: 0) }
    }

    // MARK: malformed input

    static func expectError(_ bytes: [UInt8], named name: String, mentioning fragment: String? = nil) throws {
        let folder = try ImageFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try RGBImage.load(path: path)
            Issue.record("\(name): expected an error")
        } catch let error as CAMError {
            #expect(error.message.contains(path), "error should name the file: \(error.message)")
            if let fragment {
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
    }

    static func png(width: UInt32, height: UInt32, bitDepth: UInt8 = 8, colorType: UInt8 = 2) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        let ihdrData = be(width) + be(height) + [bitDepth, colorType, 0, 0, 0]
        let body = Array("IHDR".utf8) + ihdrData
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be(13) + body + be(crc32(body))
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xffff_ffff
    }

    @Test("truncated PNG is an error") func truncatedPNG() throws {
        let whole = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.localPath("rgb.png"))))
        for cut in [whole.count - 20, whole.count / 2, 40, 20, 9] {
            try Self.expectError(Array(whole[0..<cut]), named: "cut\(cut).png")
        }
    }

    @Test("garbage with a .png name is an error") func garbagePNG() throws {
        try Self.expectError(Array("this is not an image at all".utf8), named: "garbage.png", mentioning: "not a PNG or JPEG")
        try Self.expectError([], named: "empty.png", mentioning: "empty")
        try Self.expectError([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0x41, count: 64), named: "badchunks.png")
    }

    @Test("zero-size and huge PNG headers are errors") func badHeaders() throws {
        try Self.expectError(Self.png(width: 0, height: 10), named: "zero.png")
        try Self.expectError(Self.png(width: 10, height: 0), named: "zero2.png")
        try Self.expectError(Self.png(width: 1_000_000, height: 1_000_000), named: "huge.png", mentioning: "exceeds")
        try Self.expectError(Self.png(width: 0x7fff_ffff, height: 0x7fff_ffff), named: "huge2.png")
        try Self.expectError(Self.png(width: 20_000, height: 20_000), named: "bomb.png", mentioning: "exceeds")
    }

    @Test("truncated, garbage and huge JPEGs are errors") func badJPEGs() throws {
        let whole = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.localPath("colour420.jpg"))))
        for cut in [whole.count - 10, whole.count / 2, 200, 10, 3] {
            try Self.expectError(Array(whole[0..<cut]), named: "cut\(cut).jpg")
        }
        try Self.expectError([0xFF, 0xD8, 0xFF] + Array(repeating: 0x00, count: 100), named: "garbage.jpg")
        // Patch the SOF0 frame size to 65500 x 65500.
        var huge = whole
        if let sof = (0..<(huge.count - 9)).first(where: { huge[$0] == 0xFF && huge[$0 + 1] == 0xC0 }) {
            huge[sof + 5] = 0xFF; huge[sof + 6] = 0xDC; huge[sof + 7] = 0xFF; huge[sof + 8] = 0xDC
            try Self.expectError(huge, named: "huge.jpg", mentioning: "exceeds")
        } else {
            Issue.record("no SOF0 marker in colour420.jpg")
        }
    }

    @Test("missing files and folders are errors") func missing() throws {
        #expect(throws: CAMError.self) { try RGBImage.load(path: "/nonexistent/picture.png") }
        #expect(throws: CAMError.self) { try RGBImage.load(path: NSTemporaryDirectory()) }
    }

    // MARK: real pictures

    @Test("JPEG and PNG decoding + cv2 resize reproduce the resnet18 inputs",
          .enabled(if: ImageFixtures.sharedExists("torch/resnet18/rgb224_uint8.npy") && ImageFixtures.sharedExists("real/images/horses.jpg")))
    func resnet18Pixels() throws {
        for (index, name) in [(1, "both.png"), (2, "horses.jpg")] {
            let decoded = try RGBImage.load(path: ImageFixtures.sharedPath("real/images/" + name))
            let resized = try decoded.resizeBilinearOpenCV(width: 224, height: 224)
            let expected = try ImageFixtures.image(ImageFixtures.sharedPath("torch/resnet18/rgb224_uint8.npy"), index: index)
            let (maxAbs, differing) = ImageFixtures.compare(resized.pixels, expected.pixels)
            print("measure: resnet18 \(name) \(decoded.width)x\(decoded.height) decode+cv2 resize vs rgb224_uint8[\(index)]: max |Δ| \(maxAbs), differing bytes \(differing) of \(expected.pixels.count)")
            #expect(differing == 0)
        }
    }
}
