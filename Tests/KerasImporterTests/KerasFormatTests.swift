import CAMCore
import Foundation
import KerasFormat
import Testing
import TestSupport

/// The format layer on its own: HDF5 attributes in their several spellings (variable- and
/// fixed-length strings, empty lists, chunked attributes), Keras 2 and 3 configs, weights by
/// the names the file gives.
@Suite("Keras .h5 format layer")
struct KerasFormatTests {
    static func local(_ file: String) -> String { KerasLayerTests.path(file) }

    @Test func readsAKeras3File() throws {
        guard let path = Fixtures.path("keras/small_cnn/model.h5") else { return }
        let file = try KerasModelFile.read(path: path)
        #expect(file.kerasVersion == "3.15.1")
        #expect(file.kerasMajorVersion == 3)
        #expect(file.backend == "torch")
        #expect(file.model.kind == .functional)
        #expect(file.model.className == "Functional")
        #expect(file.model.layers.count == 18)
        #expect(file.model.inputs == [KerasTensorRef(layer: "input")])
        #expect(file.model.outputs == [KerasTensorRef(layer: "predictions")])
        #expect(file.model.layer(named: "res_add")?.inboundNodes == [[KerasTensorRef(layer: "pool1"), KerasTensorRef(layer: "res_bn2")]])
        #expect(file.weightLayerNames.first == "input")
        #expect(file.weights["conv1"]?.map(\.variable) == ["kernel", "bias"])
        #expect(file.weights["conv1"]?.map(\.name) == ["conv1/kernel", "conv1/bias"])
        #expect(file.weights["conv1"]?[0].shape == [3, 3, 3, 16])
        #expect(file.weights["bn1"]?.map(\.variable) == ["gamma", "beta", "moving_mean", "moving_variance"])
        #expect(file.weights["relu1"]?.isEmpty == true)
    }

    @Test func readsAKeras2File() throws {
        guard let path = Fixtures.path("real/fer_mini_xception/model.h5") else { return }
        let file = try KerasModelFile.read(path: path)
        #expect(file.kerasVersion == "2.0.5")
        #expect(file.kerasMajorVersion == 2)
        #expect(file.backend == "tensorflow")
        #expect(file.model.className == "Model")
        #expect(file.model.inputs == [KerasTensorRef(layer: "input_1")])
        // Fixed-length string attributes; dataset paths taken from weight_names, not guessed.
        let sep = try #require(file.weights["separable_conv2d_1"])
        #expect(sep.map(\.name) == ["separable_conv2d_1_1/depthwise_kernel:0", "separable_conv2d_1_1/pointwise_kernel:0"])
        #expect(sep.map(\.variable) == ["depthwise_kernel", "pointwise_kernel"])
        #expect(sep.map(\.shape) == [[3, 3, 8, 1], [1, 1, 8, 16]])
        #expect(file.model.layer(named: "add_1")?.inboundNodes == [[KerasTensorRef(layer: "max_pooling2d_1"), KerasTensorRef(layer: "batch_normalization_3")]])
    }

    @Test func readsChunkedLayerNamesAndTheOldSequentialConfig() throws {
        let file = try KerasModelFile.read(path: Self.local("keras2_sequential.h5"))
        #expect(file.kerasVersion == "2.1.6")
        #expect(file.weightLayerNames == ["conv", "bn", "leaky", "pool", "flatten", "probs"])
        #expect(file.model.kind == .sequential)
        // The input layer is made from the first layer's batch_input_shape.
        #expect(file.model.layers.first?.className == "InputLayer")
        #expect(file.model.layers.map(\.name).dropFirst() == ["conv", "bn", "leaky", "pool", "flatten", "probs"])
        #expect(file.model.layer(named: "bn")?.inboundNodes == [[KerasTensorRef(layer: "conv")]])
        #expect(file.weights["conv"]?.map(\.name) == ["conv_1/kernel:0", "conv_1/bias:0"])
    }

    @Test func readsNestedModelWeightsAndSharedLayerCalls() throws {
        let file = try KerasModelFile.read(path: Self.local("nested_shared.h5"))
        #expect(file.model.layer(named: "shared")?.inboundNodes.count == 2)
        #expect(file.model.layer(named: "innerfun")?.inboundNodes.count == 2)
        let inner = try #require(file.model.layer(named: "innerseq")?.nestedModel)
        #expect(inner.kind == .sequential)
        #expect(inner.layers.map(\.name) == ["input_layer", "c", "bn", "r"])
        #expect(file.weights["innerseq"]?.map(\.name).first == "innerseq/c/kernel")
        #expect(file.weights["innerseq"]?.first?.scope == ["innerseq", "c"])
        #expect(file.model.layer(named: "add")?.inboundNodes == [[KerasTensorRef(layer: "shared"), KerasTensorRef(layer: "shared", node: 1)]])
    }

    @Test func weightNamesSplitIntoScopeAndVariable() {
        let w = KerasWeight(name: "block/conv2d_1_1/kernel:0", tensor: Tensor(zeros: [1]))
        #expect(w.variable == "kernel")
        #expect(w.scope == ["block", "conv2d_1_1"])
        #expect(KerasWeight(name: "bias", tensor: Tensor(zeros: [1])).scope.isEmpty)
    }

    @Test func parsesPythonJSONWithNaNAndInfinity() throws {
        let v = try JSONValue.parse(#"{"a": NaN, "b": Infinity, "c": -Infinity, "d": [1, 2.5, true, null, "x"]}"#, what: "test")
        #expect(v["a"]?.double?.isNaN == true)
        #expect(v["b"]?.double == .infinity)
        #expect(v["c"]?.double == -.infinity)
        #expect(v["d"]?.array?.count == 5)
        #expect(v["d"]?.array?[0].int == 1)
        #expect(v["d"]?.array?[1].int == nil)
        #expect(v["d"]?.array?[2].bool == true)
        #expect(throws: CAMError.self) { try JSONValue.parse("{not json", what: "test") }
    }

    @Test func configErrorsNameTheProblem() throws {
        func parse(_ text: String) throws -> KerasModelConfig {
            try KerasModelConfig.parse(try JSONValue.parse(text, what: "t"), what: "m.h5")
        }
        #expect { try parse(#"{"class_name": "Dense", "config": {}}"#) } throws: { ($0 as? CAMError)?.message.contains("not a Keras model") == true }
        #expect { try parse(#"{"class_name": "Functional", "config": {"layers": [], "input_layers": [], "output_layers": []}}"#) } throws: {
            ($0 as? CAMError)?.message.contains("declares no input_layers") == true
        }
        #expect { try parse(#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}"#) } throws: {
            ($0 as? CAMError)?.message.contains("declares no input shape") == true
        }
        #expect { try parse(#"{"class_name": "Functional", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "a"}, "name": "a", "inbound_nodes": []}, {"class_name": "ReLU", "config": {}, "name": "a", "inbound_nodes": []}], "input_layers": ["a", 0, 0], "output_layers": ["a", 0, 0]}}"#) } throws: {
            ($0 as? CAMError)?.message.contains("two layers named 'a'") == true
        }
    }
}
