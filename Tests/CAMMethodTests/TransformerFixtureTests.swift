import CAMCore
import Foundation
import Testing
import TestSupport

/// CAM methods on a vision transformer (DeiT-tiny, upstream's `vit_reshape_transform`) against
/// pytorch-grad-cam's references, with the token grid found by the `vit` transform itself.
@Suite("Vision transformers match pytorch-grad-cam")
struct TransformerFixtureTests {
    static let deit = "torch/deit_tiny_patch16_224"

    /// One method's references in the fixture folder: `<reference>.npy` (final maps),
    /// `<reference>_raw.npy` and, when `weights`, `<reference>_weights.npy`.
    struct MethodCase: CustomStringConvertible, Sendable {
        let method: String
        let reference: String
        let weights: Bool
        init(_ method: String, reference: String, weights: Bool = false) {
            self.method = method
            self.reference = reference
            self.weights = weights
        }
        var description: String { method }
    }

    /// Methods checked here through the CLI-equivalent path; every other method runs on DeiT in
    /// `MethodFixtureTests`, whose fixture list includes it.
    static let methods: [MethodCase] = [
        MethodCase("gradcam", reference: "GradCAM", weights: true),
    ]

    static func manifest() throws -> (layer: String, categories: [Int]) { try Fixtures.targetLayerAndCategories(deit) }

    static func explain(_ method: String, options: String? = nil) throws -> CAMResult? {
        guard let modelPath = Fixtures.path("\(deit)/model.onnx") else { return nil }
        Fixtures.loadPlugins()
        let model = try Model.load(path: modelPath)
        let (layer, categories) = try manifest()
        let input = try Fixtures.npy("\(deit)/input.npy")
        let cam = try PluginRegistry.shared.method(named: method)
        guard let vit = PluginRegistry.shared.reshape(named: "vit") else {
            Issue.record("the vit reshape transform is not registered: \(PluginRegistry.shared.failures.map(\.reason))")
            return nil
        }
        return try CAMExplainer(model: model).explain(input, CAMRequest(method: cam, targetLayers: [layer], categories: categories,
                                                                      reshape: vit, reshapeOptions: options))
    }

    @Test(arguments: methods)
    func methodMatchesUpstream(_ c: MethodCase) throws {
        guard let result = try Self.explain(c.method) else { return }
        let maps = Compare.mapsMatch(result.maps!, try Fixtures.npy("\(Self.deit)/\(c.reference).npy"))
        #expect(maps.ok, "final maps: \(maps.report)")
        print("DeiT \(c.method): \(maps.report)")
        let raw = Compare.relative(result.layerMaps[0].raw, try Fixtures.npy("\(Self.deit)/\(c.reference)_raw.npy"))
        #expect(raw <= 1e-3, "raw map relative error \(raw)")
        var report = String(format: "raw %.2e", raw)
        if c.weights {
            let weights = Compare.relative(result.layerMaps[0].weights!, try Fixtures.npy("\(Self.deit)/\(c.reference)_weights.npy"))
            #expect(weights <= 1e-3, "weights relative error \(weights)")
            report += String(format: ", weights %.2e", weights)
        }
        print("DeiT \(c.method): relative \(report)")
    }

    @Test func activationsAndGradientsAfterTheTransform() throws {
        guard let result = try Self.explain("gradcam") else { return }
        let a = result.layers[0].activations, g = result.layers[0].gradients!
        #expect(a.shape == [3, 192, 14, 14])
        let activations = Compare.relative(a, try Fixtures.npy("\(Self.deit)/gradcam_activations.npy"))
        let gradients = Compare.relative(g, try Fixtures.npy("\(Self.deit)/gradcam_gradients.npy"))
        #expect(activations <= 1e-3, "activations relative error \(activations)")
        #expect(gradients <= 1e-3, "gradients relative error \(gradients)")
        print(String(format: "DeiT gradcam: activations %.2e, gradients %.2e relative", activations, gradients))
    }

    @Test func forcedGridGivesTheSameMaps() throws {
        guard let inferred = try Self.explain("gradcam"), let forced = try Self.explain("gradcam", options: "14x14") else { return }
        #expect(Compare.maxAbs(inferred.maps!, forced.maps!) == 0)
    }

    @Test func torchModulePathsResolve() throws {
        // Upstream's users write `model.blocks[-1].norm1`; the exporter names its nodes
        // `/blocks/blocks.11/norm1/…` (only container indices are qualified).
        guard let modelPath = Fixtures.path("\(Self.deit)/model.onnx") else { return }
        Fixtures.loadPlugins()
        let graph = try Model.load(path: modelPath).graph
        let (layer, _) = try Self.manifest()
        #expect(graph.name(of: try LayerResolver.resolve("blocks.11.norm1", in: graph)) == layer)
        #expect(graph.name(of: try LayerResolver.resolve("blocks.11.attn.qkv", in: graph)) == "/blocks/blocks.11/attn/qkv/Add_output_0")
        #expect(graph.name(of: try LayerResolver.resolve("blocks.1", in: graph)) == "/blocks/blocks.1/Add_1_output_0")
        #expect(graph.name(of: try LayerResolver.resolve("norm", in: graph)) == "/norm/LayerNormalization_output_0")
        #expect(throws: CAMError.self) { try LayerResolver.resolve("blocks.12.norm1", in: graph) }
    }

    @Test func untransformedActivationsAreTheTokens() throws {
        // Without a transform the layer is (N, 197, 192); upstream saved it before reshaping.
        guard let modelPath = Fixtures.path("\(Self.deit)/model.onnx") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: modelPath)
        let (layer, _) = try Self.manifest()
        let tokens = try model.evaluate([try Fixtures.npy("\(Self.deit)/input.npy")], fetch: [try LayerResolver.resolve(layer, in: model.graph)])[0]
        let reference = try Fixtures.npy("\(Self.deit)/gradcam_activations_untransformed.npy")
        #expect(tokens.shape == reference.shape)
        #expect(Compare.relative(tokens, reference) <= 1e-3)
        // And a CNN-only method call on it says what to do.
        let cam = try PluginRegistry.shared.method(named: "gradcam")
        #expect {
            _ = try CAMExplainer(model: model).explain(try Fixtures.npy("\(Self.deit)/input.npy"), CAMRequest(method: cam, targetLayers: [layer]))
        } throws: { e in (e as? CAMError)?.message.contains("--reshape vit") == true }
    }
}
