import CAMCore
import Foundation
import Testing
import TestSupport

/// GradCAM against pytorch-grad-cam's references: final maps, raw maps, weights, and the
/// activations and gradients at the target layer.
@Suite("GradCAM matches pytorch-grad-cam")
struct GradCAMFixtureTests {
    struct Case: CustomStringConvertible, Sendable {
        let fixture: String
        var description: String { fixture }
    }

    static let fixtures = [Case(fixture: "torch/resnet18"), Case(fixture: "real/efficientnet_lite0")]

    @Test(arguments: fixtures)
    func gradCAM(_ c: Case) throws {
        guard let modelPath = Fixtures.path("\(c.fixture)/model.onnx") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: modelPath)
        let (layer, categories) = try Fixtures.targetLayerAndCategories(c.fixture)
        let input = try Fixtures.npy("\(c.fixture)/input.npy")
        let method = try PluginRegistry.shared.method(named: "gradcam")
        let result = try CAMExplainer(model: model).explain(input, CAMRequest(method: method, targetLayers: [layer], categories: categories))

        let maps = Compare.mapsMatch(result.maps!, try Fixtures.npy("\(c.fixture)/GradCAM.npy"))
        #expect(maps.ok, "final maps: \(maps.report)")
        let raw = Compare.relative(result.layerMaps[0].raw, try Fixtures.npy("\(c.fixture)/GradCAM_raw.npy"))
        #expect(raw <= 1e-3, "raw map relative error \(raw)")
        let weights = Compare.relative(result.layerMaps[0].weights!, try Fixtures.npy("\(c.fixture)/GradCAM_weights.npy"))
        #expect(weights <= 1e-3, "weights relative error \(weights)")
        let activations = Compare.relative(result.layers[0].activations, try Fixtures.npy("\(c.fixture)/gradcam_activations.npy"))
        #expect(activations <= 1e-3, "activations relative error \(activations)")
        let gradients = Compare.relative(result.layers[0].gradients!, try Fixtures.npy("\(c.fixture)/gradcam_gradients.npy"))
        #expect(gradients <= 1e-3, "gradients relative error \(gradients)")
    }

    @Test func modulePathResolvesToTheSameTensor() throws {
        guard let modelPath = Fixtures.path("torch/resnet18/model.onnx") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: modelPath)
        let byPath = try LayerResolver.resolve("layer4.1", in: model.graph)
        #expect(model.graph.name(of: byPath) == "/layer4/layer4.1/relu_1/Relu_output_0")
        #expect(throws: CAMError.self) { try LayerResolver.resolve("layer9.3", in: model.graph) }
    }
}
