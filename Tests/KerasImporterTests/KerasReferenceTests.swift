import CAMCore
import Foundation
import Testing
import TestSupport

/// The Keras reference fixtures in `../shared/fixtures`: outputs against Keras's `predict`,
/// per-layer activations, and Grad-CAM against the references, through the plugin as
/// `swiftcam` runs it.
@Suite("Keras models match Keras")
struct KerasReferenceTests {
    static func load(_ relative: String) throws -> Model? {
        guard let path = Fixtures.path(relative) else { return nil }
        Fixtures.loadPlugins()
        return try Model.load(path: path)
    }

    /// (N, H, W, C) → (N, C, H, W).
    static func nchw(_ t: Tensor) throws -> Tensor {
        t.rank == 4 ? try Transpose(perm: [0, 3, 1, 2]).forward([t])[0] : t
    }

    @Test(arguments: ["keras/small_cnn", "keras/mobilenetv2_035_96"])
    func keras3OutputsMatch(_ fixture: String) throws {
        guard let model = try Self.load("\(fixture)/model.h5") else { return }
        #expect(model.inputLayout == .nhwc)
        let out = try model.predict(try Fixtures.npy("\(fixture)/input.npy"))[0]
        let reference = try Fixtures.npy("\(fixture)/output.npy")
        #expect(out.shape == reference.shape)
        let delta = Compare.maxAbs(out, reference)
        #expect(delta <= 1e-4, "max |Δ| \(delta)")
    }

    @Test func smallCNNGradCAMMatches() throws {
        let fixture = "keras/small_cnn"
        guard let model = try Self.load("\(fixture)/model.h5") else { return }
        let manifest = try Fixtures.json("\(fixture)/manifest.json")
        let gradcam = manifest["gradcam"] as! [String: Any]
        let layer = gradcam["target_layer"] as! String
        let categories = (gradcam["targets"] as! [[String: Any]]).map { $0["category"] as! Int }
        let input = try Fixtures.npy("\(fixture)/input.npy")
        let method = try PluginRegistry.shared.method(named: "gradcam")
        let result = try CAMExplainer(model: model).explain(input, CAMRequest(method: method, targetLayers: [layer], categories: categories))

        let maps = Compare.mapsMatch(result.maps!, try Fixtures.npy("\(fixture)/GradCAM.npy"))
        #expect(maps.ok, "final maps: \(maps.report)")
        let raw = Compare.relative(result.layerMaps[0].raw, try Fixtures.npy("\(fixture)/GradCAM_raw.npy"))
        #expect(raw <= 1e-3, "raw map relative error \(raw)")
        let weights = Compare.relative(result.layerMaps[0].weights!, try Fixtures.npy("\(fixture)/GradCAM_weights.npy"))
        #expect(weights <= 1e-3, "weights relative error \(weights)")
        // The references are saved NCHW (the Keras tensor transposed), as SwiftCAM holds them.
        let activations = Compare.relative(result.layers[0].activations, try Fixtures.npy("\(fixture)/gradcam_activations.npy"))
        #expect(activations <= 1e-4, "activations relative error \(activations)")
        let gradients = Compare.relative(result.layers[0].gradients!, try Fixtures.npy("\(fixture)/gradcam_gradients.npy"))
        #expect(gradients <= 1e-3, "gradients relative error \(gradients)")
    }

    // MARK: FER mini-Xception (Keras 2.0.5)

    static let fer = "real/fer_mini_xception"

    @Test func ferOutputsMatch() throws {
        guard let model = try Self.load("\(Self.fer)/model.h5") else { return }
        let out = try model.predict(try Fixtures.npy("\(Self.fer)/input.npy"))[0]
        let delta = Compare.maxAbs(out, try Fixtures.npy("\(Self.fer)/output_predictions.npy"))
        #expect(delta <= 1e-4, "max |Δ| \(delta)")
    }

    @Test(arguments: ["conv2d_1", "batch_normalization_1", "activation_1", "separable_conv2d_1", "max_pooling2d_1",
                      "add_1", "add_4", "conv2d_7", "global_average_pooling2d_1"])
    func ferLayerActivationsMatch(_ layer: String) throws {
        guard let model = try Self.load("\(Self.fer)/model.h5") else { return }
        let id = try LayerResolver.resolve(layer, in: model.graph)
        let value = try model.evaluate([try Fixtures.npy("\(Self.fer)/input.npy")], fetch: [id])[0]
        let reference = try Self.nchw(try Fixtures.npy("\(Self.fer)/layer_\(layer).npy"))
        #expect(value.shape == reference.shape)
        let delta = Compare.maxAbs(value, reference)
        #expect(delta <= 1e-4 * max(1, Compare.maxAbs(reference, Tensor(zeros: reference.shape))), "\(layer): max |Δ| \(delta)")
    }

    /// meta.json: Grad-CAM at add_4 for the softmax output's "neutral" (6): alpha = mean gradient,
    /// cam = relu(Σ alpha·A) at 4×4, then scale_cam_image (min-max, cv2 resize to 64×64).
    @Test func ferGradCAMMatches() throws {
        guard let model = try Self.load("\(Self.fer)/model.h5") else { return }
        let meta = try Fixtures.json("\(Self.fer)/meta.json")
        #expect((meta["gradcam"] as? [String: Any])?["layer"] as? String ?? "" == "add_4 (4x4x128, last residual Add before conv2d_7 classifier)")
        let input = try Fixtures.npy("\(Self.fer)/input.npy")
        let method = try PluginRegistry.shared.method(named: "gradcam")
        let result = try CAMExplainer(model: model).explain(input, CAMRequest(method: method, targetLayers: ["add_4"], categories: [6]))
        #expect(abs(result.outputs[0].toFloats()[6] - 0.5559852719306946) <= 1e-5)

        let activations = Compare.relative(result.layers[0].activations, try Self.nchw(try Fixtures.npy("\(Self.fer)/inter_add_4_A.npy")))
        #expect(activations <= 1e-4, "activations relative error \(activations)")
        let gradients = Compare.relative(result.layers[0].gradients!, try Self.nchw(try Fixtures.npy("\(Self.fer)/gradcam_add_4_grad.npy")))
        #expect(gradients <= 1e-3, "gradients relative error \(gradients)")
        let alpha = try Fixtures.npy("\(Self.fer)/gradcam_add_4_alpha.npy")
        let weights = Compare.relative(result.layerMaps[0].weights!, alpha.reshaped(to: [1, alpha.count]))
        #expect(weights <= 1e-3, "weights relative error \(weights)")

        let raw = result.layerMaps[0].raw
        let relu = Tensor(shape: raw.shape, floats: raw.toFloats().map { max($0, 0) })
        let cam4 = try Fixtures.npy("\(Self.fer)/gradcam_add_4_cam_4x4.npy")
        let rawError = Compare.relative(relu, cam4.reshaped(to: [1, 4, 4]))
        #expect(rawError <= 1e-3, "4×4 map relative error \(rawError)")

        // The reference is one layer's scale_cam_image; upstream's cam(...) then takes ReLU, the
        // mean over layers and min-max once more, which SwiftCAM's final maps include.
        let reference = try Fixtures.npy("\(Self.fer)/gradcam_add_4_cam_64_scaled.npy").reshaped(to: [1, 64, 64])
        let scaled = try CAMPostprocessing.scaleLayer(raw, to: (64, 64))
        let layerMatch = Compare.mapsMatch(scaled, reference)
        #expect(layerMatch.ok, "scaled layer map: \(layerMatch.report)")
        let final = Compare.mapsMatch(result.maps!, try CAMPostprocessing.aggregate([reference]))
        #expect(final.ok, "final maps: \(final.report)")
    }

    @Test func ferIsAKeras2FunctionalModelWithNamedLayers() throws {
        guard let model = try Self.load("\(Self.fer)/model.h5") else { return }
        #expect(model.inputLayout == .nhwc)
        #expect(model.inputNames == ["input_1"])
        #expect(model.declaredInputSize?.height == 64)
        for layer in ["conv2d_1", "separable_conv2d_8", "add_4", "predictions"] {
            #expect(model.graph.id(named: layer) != nil, "\(layer)")
        }
        #expect(throws: CAMError.self) { try LayerResolver.resolve("add_9", in: model.graph) }
    }
}

/// Every CAM method plugin runs on a Keras model as on an ONNX one (the methods only see the
/// graph IR): maps of the input's size in [0, 1], or pixel attributions for guided backprop.
@Suite("CAM methods on Keras models")
struct KerasMethodTests {
    @Test func everyMethodRunsOnSmallCNN() throws {
        guard let model = try KerasReferenceTests.load("keras/small_cnn/model.h5") else { return }
        let input = try Fixtures.npy("keras/small_cnn/input.npy")
        let names = PluginRegistry.shared.methodNames
        #expect(names.contains("gradcam"))
        // sobelcam reads pictures, not tensors; it has its own test.
        for name in names where name != "sobelcam" {
            let method = try PluginRegistry.shared.method(named: name)
            do {
                let result = try CAMExplainer(model: model).explain(input, CAMRequest(method: method, targetLayers: ["relu2"], categories: [3, 7]))
                if let maps = result.maps {
                    #expect(maps.shape == [2, 64, 64], "\(name): \(maps.shape)")
                    #expect(maps.toFloats().allSatisfy { $0 >= 0 && $0 <= 1 + 1e-6 }, "\(name): maps outside [0, 1]")
                } else {
                    #expect(result.attribution?.shape == [2, 64, 64, 3], "\(name): neither maps nor a (2, 64, 64, 3) attribution")
                }
            } catch {
                Issue.record("\(name) failed on a Keras model: \(error)")
            }
        }
    }
}
