import CAMCore
import Foundation
import Testing

@Suite("Preprocessing")
struct PreprocessingTests {
    static let effnet = "real/efficientnet_lite0/"

    @Test("EfficientNet-Lite0: PIL shorter-side bicubic + centre crop + (x - 127) / 128",
          .enabled(if: ImageFixtures.sharedExists(effnet + "rgb224_uint8.npy")))
    func efficientNet() throws {
        let preprocessing = Preprocessing(resize: .shorterSide(256, cropHeight: 224, cropWidth: 224),
                                          normalization: .rawScale(mean: [127], std: [128]))
        let pictures = try ["chelsea.png", "coffee.png"].map { try RGBImage.load(path: ImageFixtures.sharedPath(Self.effnet + $0)) }
        let (tensor, shown) = try preprocessing.prepare(pictures)
        #expect(tensor.shape == [2, 3, 224, 224])
        for i in 0..<2 {
            let expected = try ImageFixtures.image(ImageFixtures.sharedPath(Self.effnet + "rgb224_uint8.npy"), index: i)
            let (maxAbs, differing) = ImageFixtures.compare(shown[i].pixels, expected.pixels)
            print("measure: efficientnet rgb224[\(i)] (PIL bicubic + crop): max |Δ| \(maxAbs), differing bytes \(differing) of \(expected.pixels.count)")
            #expect(differing == 0)
        }
        let (input, _) = try ImageFixtures.floats(ImageFixtures.sharedPath(Self.effnet + "input.npy"))
        let d = ImageFixtures.maxAbs(tensor.toFloats(), input)
        print("measure: efficientnet input.npy: max |Δ| \(d)")
        #expect(d == 0)
    }

    @Test("resnet18: cv2 bilinear 224×224 + ImageNet mean/std",
          .enabled(if: ImageFixtures.sharedExists("torch/resnet18/input.npy")))
    func resnet18() throws {
        let (pixels, shape) = try ImageFixtures.bytes(ImageFixtures.sharedPath("torch/resnet18/rgb224_uint8.npy"))
        let n = shape[0], size = 224 * 224 * 3
        let images = try (0..<n).map { try RGBImage(width: 224, height: 224, pixels: Array(pixels[$0 * size..<($0 + 1) * size])) }
        let (tensor, _) = try Preprocessing.imagenet.prepare(images)
        let (input, _) = try ImageFixtures.floats(ImageFixtures.sharedPath("torch/resnet18/input.npy"))
        let d = ImageFixtures.maxAbs(tensor.toFloats(), input)
        print("measure: resnet18 input.npy from rgb224_uint8: max |Δ| \(d)")
        #expect(d == 0)
    }

    @Test("unit-scale normalisation in RGB and BGR order matches numpy float32")
    func normalisation() throws {
        let image = try ImageFixtures.image(ImageFixtures.localPath("overlay_img.npy"))
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        let rgb = Preprocessing(resize: .none, normalization: .unitScale(mean: mean, std: std))
        let bgr = Preprocessing(resize: .none, normalization: .unitScale(mean: mean.reversed(), std: std.reversed()), bgr: true)
        let (x, _) = try rgb.prepare([image])
        let (y, _) = try bgr.prepare([image])
        #expect(x.toFloats() == (try ImageFixtures.floats(ImageFixtures.localPath("normalized_unit_rgb.npy"))).values)
        #expect(y.toFloats() == (try ImageFixtures.floats(ImageFixtures.localPath("normalized_unit_bgr.npy"))).values)
    }

    @Test("mismatched batch sizes and bad statistics are errors")
    func errors() throws {
        let a = try RGBImage(width: 4, height: 3), b = try RGBImage(width: 5, height: 3)
        let p = Preprocessing(resize: .none, normalization: .rawScale(mean: [0], std: [1]))
        #expect(throws: CAMError.self) { try p.prepare([a, b]) }
        #expect(throws: CAMError.self) { try p.prepare([]) }
        let bad = Preprocessing(resize: .none, normalization: .rawScale(mean: [0, 0], std: [1]))
        #expect(throws: CAMError.self) { try bad.prepare([a]) }
        let zero = Preprocessing(resize: .none, normalization: .unitScale(mean: [0], std: [0]))
        #expect(throws: CAMError.self) { try zero.prepare([a]) }
        let plain = Preprocessing(resize: .plain(height: 6, width: 8), normalization: .rawScale(mean: [0], std: [1]))
        let (t, shown) = try plain.prepare([a, b])
        #expect(t.shape == [2, 3, 6, 8] && shown[1].width == 8)
    }
}
