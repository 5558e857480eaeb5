import CAMCore
import Foundation
import Testing
import TestSupport

/// The small models of `Fixtures/` (built with Keras 3 on JAX by `make_fixtures.py`): every
/// output of each against Keras's `predict`, covering the supported layer classes.
@Suite("Keras layers match Keras")
struct KerasLayerTests {
    static let folder = Fixtures.repositoryRoot.appendingPathComponent("Tests/KerasImporterTests/Fixtures")

    static func path(_ file: String) -> String { folder.appendingPathComponent(file).path }

    static func load(_ name: String) throws -> Model {
        Fixtures.loadPlugins()
        return try Model.load(path: path("\(name).h5"))
    }

    struct Case: CustomStringConvertible, Sendable {
        let model: String
        /// The output layers, in the model's output order (what each output exercises).
        let outputs: [String]
        var description: String { model }
    }

    static let cases = [
        Case(model: "conv_layers", outputs: ["c_same_even", "c_dilated", "c_groups", "c_rect", "dw", "dw_dilated", "sep", "sep_strided",
                                             "t_same3", "t_same4", "t_valid", "t_dilated", "t_outpad", "t_small_kernel"]),
        Case(model: "activations", outputs: ["act_relu", "act_relu6", "act_sigmoid", "act_hard_sigmoid", "act_softmax", "act_tanh",
                                             "act_swish", "act_silu", "act_elu", "act_selu", "act_gelu", "act_linear", "act_softplus",
                                             "act_softsign", "act_exponential", "act_leaky_relu", "act_hard_silu", "act_mish",
                                             "act_log_softmax", "act_hard_tanh", "act_log_sigmoid", "act_tanh_shrink", "relu_plain",
                                             "relu_max", "relu_slope", "relu_threshold", "relu_all", "leaky", "prelu", "prelu_shared",
                                             "elu_layer", "softmax_layer", "softmax_axis1", "dense_softmax"]),
        Case(model: "pool_merge", outputs: ["max_same", "max_valid", "avg_same", "avg_valid", "gap_keep", "gmp", "gap", "add3", "sub",
                                            "mul", "avg3", "maximum", "minimum", "concat_c", "concat_h", "concat_w", "zpad", "zpad_sym",
                                            "crop", "crop_w", "up_nearest", "up_bilinear", "up_bilinear3"]),
        Case(model: "dense_reshape", outputs: ["probs", "dense3d", "crop1d", "gap1d", "gmp1d", "after_reshape", "after_permute",
                                               "flatten_perm", "gdrop"]),
        Case(model: "conv1d_layers", outputs: ["t1d", "t1d_valid", "dw1d", "sep1d", "dense5d"]),
        Case(model: "nested_shared", outputs: ["pred"]),
        Case(model: "sequential", outputs: ["probs"]),
        Case(model: "keras2_sequential", outputs: ["probs"]),
        Case(model: "keras2_functional", outputs: ["predictions"]),
    ]

    @Test(arguments: cases)
    func outputsMatchKeras(_ c: Case) throws {
        let model = try Self.load(c.model)
        let input = try NPY.read(Self.path("\(c.model)_input.npy"))
        let outputs = try model.predict(input)
        #expect(outputs.count == c.outputs.count)
        for (k, layer) in c.outputs.enumerated() where k < outputs.count {
            let reference = try NPY.read(Self.path("\(c.model)_output_\(k).npy"))
            #expect(outputs[k].shape == reference.shape, "\(layer): shape \(outputs[k].shape) vs \(reference.shape)")
            guard outputs[k].shape == reference.shape else { continue }
            let delta = Compare.maxAbs(outputs[k], reference)
            #expect(delta <= 1e-4, "\(c.model) output \(k) (\(layer)): max |Δ| \(delta)")
            // Each output layer is targetable by its Keras name.
            #expect(model.graph.id(named: layer) != nil, "\(layer) is not a graph value")
        }
    }

    @Test func aModelWithTwoInputs() throws {
        let model = try Self.load("two_inputs")
        #expect(model.inputNames == ["image", "vector"])
        #expect(model.inputLayout == .nhwc)
        let inputs = try (0..<2).map { try NPY.read(Self.path("two_inputs_input_\($0).npy")) }
        let out = try model.predict(inputs)[0]
        #expect(Compare.maxAbs(out, try NPY.read(Self.path("two_inputs_output_0.npy"))) <= 1e-5)
        #expect(throws: CAMError.self) { try model.predict(inputs[0]) }
    }

    @Test func imageModelsTakeNHWCInput() throws {
        let model = try Self.load("conv_layers")
        #expect(model.inputLayout == .nhwc)
        #expect(model.inputNames == ["image"])
        #expect(model.declaredInputSize?.height == 13 && model.declaredInputSize?.width == 12)
        // An NCHW batch is refused with the expected NHWC shape.
        #expect(throws: CAMError.self) { try model.predict(Tensor(zeros: [1, 3, 13, 12])) }
    }

    @Test func rank4LayerOutputsAreChannelsFirstInside() throws {
        let model = try Self.load("pool_merge")
        let input = try NPY.read(Self.path("pool_merge_input.npy"))
        let id = try LayerResolver.resolve("zpad", in: model.graph)
        let inside = try model.evaluate([input], fetch: [id])[0]
        #expect(inside.shape == [2, 4, 12, 13])
        let keras = try NPY.read(Self.path("pool_merge_output_16.npy"))
        let back = try Transpose(perm: [0, 2, 3, 1]).forward([inside])[0]
        #expect(Compare.maxAbs(back, keras) <= 1e-5)
    }

    @Test func sharedLayersAndNestedModelsAreNamedPerCall() throws {
        let model = try Self.load("nested_shared")
        for name in ["shared", "shared:1", "innerseq", "innerseq/c", "innerseq/bn", "innerseq/r", "innerfun", "innerfun:1",
                     "innerfun/c", "innerfun:1/c", "cat", "pred"] {
            #expect(model.graph.id(named: name) != nil, "\(name)")
        }
    }

    @Test func gradCAMRunsOnANestedModelLayer() throws {
        let model = try Self.load("nested_shared")
        let input = try NPY.read(Self.path("nested_shared_input.npy"))
        let method = try PluginRegistry.shared.method(named: "gradcam")
        for layer in ["innerseq", "innerseq/c", "shared:1", "cat"] {
            let result = try CAMExplainer(model: model).explain(input, CAMRequest(method: method, targetLayers: [layer], categories: [0, 1]))
            #expect(result.maps?.shape == [2, 6, 6], "\(layer)")
            #expect(result.layers[0].activations.shape[0...1] == [2, layer == "cat" ? 8 : 4], "\(layer)")
        }
    }

    /// Gradients through every converted layer kind (ConvTranspose, Resize, PReLU, thresholded
    /// ReLU, pads, crops, reshapes, …): the gradient of Σ r·outputs with respect to the input
    /// against central differences. Piecewise-linear layers have kinks where a difference quotient
    /// straddles two pieces, so a few elements may disagree; nearly all must match.
    @Test(arguments: ["conv_layers", "activations", "pool_merge", "dense_reshape", "conv1d_layers", "nested_shared"])
    func gradientsMatchFiniteDifferences(_ name: String) throws {
        let model = try Self.load(name)
        let batch = try NPY.read(Self.path("\(name)_input.npy"))
        let item = batch.count / batch.shape[0]
        let x = Tensor(shape: [1] + batch.shape.dropFirst(), floats: Array(batch.floats[0..<item]))
        let program = try model.gradientProgram(outputs: model.graph.outputs, wrt: [model.graph.inputs[0]])
        let pass = try program.forward([x])
        var rng = SplitMix(seed: 11)
        let seeds = pass.outputs.map { o in Tensor(shape: o.shape, floats: (0..<o.count).map { _ in rng.uniform() * 2 - 1 }) }
        let analytic = try pass.backward(seeds: seeds)[0]

        func loss(_ v: Tensor) throws -> Double {
            let outs = try model.predict(v)
            var s = 0.0
            for (o, r) in zip(outs, seeds) { for i in 0..<o.count { s += Double(o.floats[i]) * Double(r.floats[i]) } }
            return s
        }
        let epsilon: Float = 1e-2
        var numeric = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let plus = x.copy(), minus = x.copy()
            plus.mutableFloats[i] += epsilon
            minus.mutableFloats[i] -= epsilon
            numeric[i] = Float((try loss(plus) - loss(minus)) / Double(2 * epsilon))
        }
        let scale = max(1, numeric.map(abs).max() ?? 1)
        let errors = (0..<x.count).map { abs(analytic.floats[$0] - numeric[$0]) / scale }
        let bad = errors.filter { $0 > 2e-2 }.count
        #expect(bad <= x.count / 50, "\(name): \(bad) of \(x.count) input gradients off (worst \(errors.max() ?? 0))")
        #expect(errors.sorted()[errors.count / 2] <= 1e-3, "\(name): median error \(errors.sorted()[errors.count / 2])")
    }
}
