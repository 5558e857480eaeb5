import CAMCore
import Testing
import TestSupport

/// Several target layers are aggregated as upstream's `aggregate_multi_layers` does: each
/// layer's map ReLU'd, min-max scaled, resized to the input; then the mean over layers,
/// min-max again — written out here independently of the pipeline's code.
@Suite("Several target layers")
struct MultiLayerTests {
    @Test func gradCAMOverTwoLayersIsTheMeanOfScaledLayers() throws {
        guard let path = Fixtures.path("torch/resnet18/model.onnx") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: path)
        let input = try Fixtures.npy("torch/resnet18/input.npy")
        let gradcam = try PluginRegistry.shared.method(named: "gradcam")
        let explainer = CAMExplainer(model: model)
        let layers = ["layer3.1", "layer4.1"]
        let both = try explainer.explain(input, CAMRequest(method: gradcam, targetLayers: layers, categories: [243, 281, 339]))
        let singles = try layers.map { try explainer.explain(input, CAMRequest(method: gradcam, targetLayers: [$0], categories: [243, 281, 339])) }

        func minMax(_ x: [Float]) -> [Float] {
            let lo = x.min()!
            let shifted = x.map { $0 - lo }
            let hi = shifted.max()!
            return shifted.map { $0 / (1e-7 + hi) }
        }
        for i in 0..<3 {
            let scaled = try singles.map { s -> [Float] in
                let raw = s.layerMaps[0].raw.batchItem(i)
                let (h, w) = (raw.shape[0], raw.shape[1])
                return try OpenCVResize.bilinear(minMax(raw.toFloats().map { Swift.max($0, 0) }), width: w, height: h, toWidth: 224, toHeight: 224)
            }
            let mean = (0..<(224 * 224)).map { p in scaled.reduce(0) { $0 + Swift.max($1[p], 0) } / Float(scaled.count) }
            let expected = minMax(mean)
            let got = both.maps!.batchItem(i).toFloats()
            let delta = zip(got, expected).map { abs($0 - $1) }.max()!
            #expect(delta < 1e-5, "image \(i): max |Δ| \(delta)")
        }
    }
}
