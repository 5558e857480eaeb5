import CAMCore
import Foundation
import Testing

@Suite("Resizing")
struct ResizeTests {
    static let source = try! ImageFixtures.image(ImageFixtures.localPath("resize_src_u8.npy"))

    @Test("uint8 bilinear matches cv2.resize INTER_LINEAR exactly",
          arguments: [(11, 9), (40, 31), (7, 5), (22, 40), (5, 60), (1, 1), (3, 18)])
    func opencvUInt8(size: (Int, Int)) throws {
        let (w, h) = size
        let ours = try Self.source.resizeBilinearOpenCV(width: w, height: h)
        let expected = try ImageFixtures.image(ImageFixtures.localPath("cv2_linear_u8_\(w)x\(h).npy"))
        let (maxAbs, differing) = ImageFixtures.compare(ours.pixels, expected.pixels)
        print("measure: cv2 u8 22x18→\(w)x\(h): max |Δ| \(maxAbs), differing \(differing)")
        #expect(differing == 0)
    }

    @Test("uint8 bilinear on a one-pixel-wide picture")
    func opencvThin() throws {
        let thin = try ImageFixtures.image(ImageFixtures.localPath("resize_thin_u8.npy"))
        let ours = try thin.resizeBilinearOpenCV(width: 4, height: 10)
        let expected = try ImageFixtures.image(ImageFixtures.localPath("cv2_linear_thin_4x10.npy"))
        #expect(ours == expected)
    }

    @Test("float32 bilinear matches cv2.resize on float32 maps",
          arguments: [("7x7", 7, 7, 30, 23), ("7x7", 7, 7, 5, 3), ("7x7", 7, 7, 64, 6), ("7x7", 7, 7, 7, 30),
                      ("22x10", 22, 10, 11, 5), ("22x10", 22, 10, 9, 4), ("22x10", 22, 10, 44, 20),
                      ("1x12", 1, 12, 44, 15), ("16x1", 16, 1, 48, 2)])
    func opencvFloat(c: (String, Int, Int, Int, Int)) throws {
        let (tag, sw, sh, w, h) = c
        let (src, _) = try ImageFixtures.floats(ImageFixtures.localPath("resize_src_f32_\(tag).npy"))
        let (expected, shape) = try ImageFixtures.floats(ImageFixtures.localPath("cv2_linear_f32_\(tag)_to_\(w)x\(h).npy"))
        #expect(shape == [h, w])
        let ours = try OpenCVResize.bilinear(src, width: sw, height: sh, toWidth: w, toHeight: h)
        let d = ImageFixtures.maxAbs(ours, expected)
        let differing = zip(ours, expected).filter { $0 != $1 }.count
        print("measure: cv2 f32 \(tag)→\(w)x\(h): max |Δ| \(d), differing \(differing) of \(ours.count)")
        #expect(d == 0)
    }

    @Test("PIL bicubic matches Image.resize(BICUBIC) exactly",
          arguments: [(40, 31), (7, 5), (13, 9), (22, 40), (3, 50), (11, 9), (9, 18)])
    func pilBicubic(size: (Int, Int)) throws {
        let (w, h) = size
        let ours = try Self.source.resizeBicubicPIL(width: w, height: h)
        let expected = try ImageFixtures.image(ImageFixtures.localPath("pil_bicubic_\(w)x\(h).npy"))
        let (maxAbs, differing) = ImageFixtures.compare(ours.pixels, expected.pixels)
        print("measure: PIL bicubic 22x18→\(w)x\(h): max |Δ| \(maxAbs), differing \(differing)")
        #expect(differing == 0)
    }

    @Test("same-size resizes are copies")
    func identity() throws {
        #expect(try Self.source.resizeBilinearOpenCV(width: 22, height: 18) == Self.source)
        #expect(try Self.source.resizeBicubicPIL(width: 22, height: 18) == Self.source)
        #expect(throws: CAMError.self) { try Self.source.resizeBilinearOpenCV(width: 0, height: 5) }
        #expect(throws: CAMError.self) { try OpenCVResize.bilinear([1, 2, 3], width: 2, height: 2, toWidth: 4, toHeight: 4) }
    }

    @Test("centre crop uses PIL's floor offsets and pads outside with black")
    func centerCrop() throws {
        let crop = try Self.source.centerCrop(height: 5, width: 7)  // left (22-7)//2 = 7, top (18-5)//2 = 6
        #expect(crop[0, 0] == Self.source[7, 6])
        #expect(crop[6, 4] == Self.source[13, 10])
        let padded = try Self.source.centerCrop(height: 18, width: 25)  // left = -3//2 = -2
        #expect(padded[0, 0] == (0, 0, 0) && padded[1, 0] == (0, 0, 0))
        #expect(padded[2, 0] == Self.source[0, 0])
    }

    /// GradCAM.npy = minmax(relu(cv2.resize(minmax(relu(raw)), (224, 224)))), float32 numpy.
    static func upstreamScale(_ raw: [Float], side: Int, to target: Int) throws -> [Float] {
        func minmax(_ x: [Float]) -> [Float] {
            let lo = x.min()!
            let shifted = x.map { $0 - lo }
            let denominator = Float(1e-7) + shifted.max()!
            return shifted.map { $0 / denominator }
        }
        let first = minmax(raw.map { max($0, 0) })
        let resized = try OpenCVResize.bilinear(first, width: side, height: side, toWidth: target, toHeight: target)
        return minmax(resized.map { max($0, 0) })
    }

    @Test("GradCAM 7×7 → 224×224 end to end (EfficientNet-Lite0)",
          .enabled(if: ImageFixtures.sharedExists("real/efficientnet_lite0/GradCAM_raw.npy")))
    func gradcamEndToEnd() throws {
        let (raw, rawShape) = try ImageFixtures.floats(ImageFixtures.sharedPath("real/efficientnet_lite0/GradCAM_raw.npy"))
        let (final, finalShape) = try ImageFixtures.floats(ImageFixtures.sharedPath("real/efficientnet_lite0/GradCAM.npy"))
        let n = rawShape[0], side = rawShape[1], target = finalShape[1]
        for i in 0..<n {
            let ours = try Self.upstreamScale(Array(raw[i * side * side..<(i + 1) * side * side]), side: side, to: target)
            let expected = Array(final[i * target * target..<(i + 1) * target * target])
            let d = ImageFixtures.maxAbs(ours, expected)
            print("measure: efficientnet GradCAM[\(i)] from raw 7x7: max |Δ| \(d)")
            #expect(d == 0)
        }
    }

    @Test("Many CAM references end to end (resnet18 + EfficientNet-Lite0)",
          .enabled(if: ImageFixtures.sharedExists("torch/resnet18/GradCAM_raw.npy")))
    func manyEndToEnd() throws {
        var worst: Float = 0
        for folder in ["torch/resnet18", "real/efficientnet_lite0"] {
            for method in ["GradCAM", "HiResCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "EigenCAM", "ScoreCAM", "AblationCAM"] {
                let rawPath = ImageFixtures.sharedPath("\(folder)/\(method)_raw.npy")
                guard FileManager.default.fileExists(atPath: rawPath) else { continue }
                let (raw, rawShape) = try ImageFixtures.floats(rawPath)
                let (final, finalShape) = try ImageFixtures.floats(ImageFixtures.sharedPath("\(folder)/\(method).npy"))
                let side = rawShape[1], target = finalShape[1]
                for i in 0..<rawShape[0] {
                    let ours = try Self.upstreamScale(Array(raw[i * side * side..<(i + 1) * side * side]), side: side, to: target)
                    let d = ImageFixtures.maxAbs(ours, Array(final[i * target * target..<(i + 1) * target * target]))
                    worst = max(worst, d)
                    #expect(d == 0, "\(folder) \(method)[\(i)]: \(d)")
                }
            }
        }
        print("measure: end-to-end CAM scaling over resnet18 + efficientnet methods: worst max |Δ| \(worst)")
    }
}
