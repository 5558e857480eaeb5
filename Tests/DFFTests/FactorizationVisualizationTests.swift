import CAMCore
import Foundation
import Testing
import TestSupport

/// upstream's `show_factorization_on_image` and `create_labels_legend`, against references made by
/// `Fixtures/make_fixtures.py` (numpy, OpenCV and matplotlib).
@Suite("DFF pictures")
struct FactorizationVisualizationTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func local(_ name: String) throws -> Tensor { try NPY.read(fixtures.appendingPathComponent(name).path) }

    @Test func hsvRoundTripsAreOpenCVs() throws {
        let ramps = try Self.local("hsv_value_ramps.npy") // (Σ n, 256, 3) for n = 1…12 colours
        var row = 0
        var wrong = 0
        for n in 1...12 {
            for c in FactorizationVisualization.colors(count: n) {
                let hsv = FactorizationVisualization.rgbToHSV(c.r, c.g, c.b)
                for v in 0..<256 {
                    let rgb = FactorizationVisualization.hsvToRGB(hsv.h, hsv.s, UInt8(v))
                    let ref = (row * 256 + v) * 3
                    if [rgb.r, rgb.g, rgb.b].map(Float.init) != Array(ramps.floats[ref..<(ref + 3)]) { wrong += 1 }
                }
                row += 1
            }
        }
        #expect(row == ramps.shape[0])
        #expect(wrong == 0, "\(wrong) of \(row * 256) conversions differ from OpenCV's")
    }

    @Test func overlayIsUpstreams() throws {
        guard Fixtures.path("dff/resnet18/batch_explanations.npy") != nil else { return }
        let rgb = try Fixtures.npy("torch/resnet18/rgb224_uint8.npy")
        let image = try RGBImage(width: 224, height: 224, pixels: rgb.floats[0..<(224 * 224 * 3)].map { UInt8($0) })
        let maps = try Fixtures.npy("dff/resnet18/batch_explanations.npy")
        let first = Tensor(shape: [4, 224, 224], floats: Array(maps.floats[0..<(4 * 224 * 224)]))
        let ours = try FactorizationVisualization.overlay(image: image, maps: first, imageWeight: 0.3)
        let ref = try Self.local("factorization_overlay.npy")
        let differing = zip(ours.pixels, ref.floats).filter { Float($0.0) != $0.1 }.count
        #expect(differing == 0, "\(differing) values differ from upstream's")
    }

    @Test func labelsAreCreateLabelsLegends() {
        let scores = Tensor(shape: [2, 4], floats: [0.1, 0.6, 0.2, 0.1, 0.05, 0.05, 0.3, 0.6])
        let names = ["tench, Tinca tinca", "goldfish, Carassius auratus, x, y", "shark", "ray"]
        let labels = FactorizationVisualization.labels(scores: scores, names: names, topK: 2)
        #expect(labels == ["goldfish, Carassius auratus, x:0.60\nshark:0.20", "ray:0.60\nshark:0.30"])
    }

    @Test func legendHasAColourBarAndTextPerConcept() throws {
        let colors = FactorizationVisualization.colors(count: 3)
        let legend = try FactorizationVisualization.legend(width: 224, height: 224, labels: ["a:0.50\nb:0.25", "c:0.10", "d:0.05"], colors: colors)
        #expect(legend.width == 224 && legend.height == 224)
        for c in colors {
            #expect(stride(from: 0, to: legend.pixels.count, by: 3).contains { legend.pixels[$0] == c.r && legend.pixels[$0 + 1] == c.g && legend.pixels[$0 + 2] == c.b })
        }
        #expect(legend.pixels.contains(0), "text is drawn in black")
        // Many concepts: the legend grows instead of dropping any.
        let tall = try FactorizationVisualization.legend(width: 224, height: 224, labels: (0..<16).map { "class \($0):0.10\nother:0.05" })
        #expect(tall.height > 224)
    }
}
