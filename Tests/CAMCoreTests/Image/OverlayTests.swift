import CAMCore
import Foundation
import Testing

@Suite("Colormaps and overlay")
struct OverlayTests {
    @Test("colormap tables equal cv2.applyColorMap on all 256 values")
    func tables() throws {
        let (expected, shape) = try ImageFixtures.bytes(ImageFixtures.localPath("colormaps_rgb.npy"))
        #expect(shape == [4, 256, 3])
        for (i, map) in [Colormap.jet, .viridis, .inferno, .turbo].enumerated() {
            #expect(map.table == Array(expected[i * 768..<(i + 1) * 768]), "\(map)")
        }
        #expect(Colormap.jet.color(0) == (0, 0, 128))
        let ramp = try Colormap.jet.apply((0...255).map { UInt8($0) }, width: 256, height: 1)
        #expect(ramp.pixels == Colormap.jet.table)
    }

    @Test("overlay reproduces show_cam_on_image", arguments: [("w50", 0.5, Colormap.jet), ("w30", 0.3, .jet),
                                                               ("w100", 1.0, .jet), ("viridis_w50", 0.5, .viridis)])
    func small(c: (String, Double, Colormap)) throws {
        let image = try ImageFixtures.image(ImageFixtures.localPath("overlay_img.npy"))
        let (mask, _) = try ImageFixtures.floats(ImageFixtures.localPath("overlay_mask.npy"))
        let ours = try overlay(image: image, cam: mask, imageWeight: c.1, colormap: c.2)
        let expected = try ImageFixtures.image(ImageFixtures.localPath("overlay_\(c.0).npy"))
        #expect(ours == expected)
    }

    @Test("image weight outside [0, 1] and size mismatch are errors")
    func errors() throws {
        let image = try RGBImage(width: 2, height: 2)
        #expect(throws: CAMError.self) { try overlay(image: image, cam: [0, 0, 0, 0], imageWeight: 1.5) }
        #expect(throws: CAMError.self) { try overlay(image: image, cam: [0, 0, 0, 0], imageWeight: -0.1) }
        #expect(throws: CAMError.self) { try overlay(image: image, cam: [0, 0, 0]) }
        // A black picture under weight 1 has maximum 0: black, no division by zero.
        #expect(try overlay(image: image, cam: [0, 0, 0, 0], imageWeight: 1).pixels == [UInt8](repeating: 0, count: 12))
    }

    @Test("EfficientNet-Lite0 GradCAM overlay equals overlay_gradcam_uint8.npy",
          .enabled(if: ImageFixtures.sharedExists("real/efficientnet_lite0/overlay_gradcam_uint8.npy")))
    func realOverlay() throws {
        let folder = "real/efficientnet_lite0/"
        let image = try ImageFixtures.image(ImageFixtures.sharedPath(folder + "rgb224_uint8.npy"), index: 0)
        let (cams, _) = try ImageFixtures.floats(ImageFixtures.sharedPath(folder + "GradCAM.npy"))
        let ours = try overlay(image: image, cam: Array(cams[0..<(224 * 224)]))
        let expected = try ImageFixtures.image(ImageFixtures.sharedPath(folder + "overlay_gradcam_uint8.npy"))
        let (maxAbs, differing) = ImageFixtures.compare(ours.pixels, expected.pixels)
        print("measure: overlay vs overlay_gradcam_uint8.npy: max |Δ| \(maxAbs), differing bytes \(differing) of \(expected.pixels.count)")
        #expect(differing == 0)
        let png = try RGBImage.load(path: ImageFixtures.sharedPath(folder + "overlay_gradcam.png"))
        #expect(png == expected)
    }
}
