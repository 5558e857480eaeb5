// Compiled only where the importer module is importable: in the final package the plugin is
// loaded with dlopen, so the test target must depend on it (or a library of it) to run these.
#if canImport(ONNXFormat)
import CAMCore
import Foundation
import ONNXFormat
import Testing

/// Real exported models from the shared fixtures. Expected numbers were taken once with
/// onnx 1.23.2 + numpy (onnx.load, numpy_helper.to_array); the tests need no Python.
@Suite("Real models")
struct RealModelTests {
    @Test("ResNet-18 (PyTorch export, opset 17)", .enabled(if: ProtoFixtures.exists(ProtoFixtures.resnet18)))
    func resnet18() throws {
        let model = try ONNXModelFile.parse(path: ProtoFixtures.resnet18)
        #expect(model.irVersion == 8)
        #expect(model.producerName == "pytorch")
        #expect(model.opsetImports == ["": 17])
        #expect(model.defaultOpset == 17)
        let g = model.graph
        #expect(g.name == "main_graph")
        #expect(g.nodes.count == 49)
        #expect(g.initializers.count == 42)
        #expect(g.initializerNames.count == 42)

        #expect(g.inputs.map(\.name) == ["input"])
        #expect(g.realInputs.map(\.name) == ["input"])
        #expect(g.inputs[0].type == .tensor(elementType: .float,
                                            shape: [.symbolic("batch"), .fixed(3), .fixed(224), .fixed(224)]))
        #expect(g.inputs[0].type.tensorShape?.map(\.value) == [nil, 3, 224, 224])
        #expect(g.outputs.map(\.name) == ["logits"])
        #expect(g.outputs[0].type == .tensor(elementType: .float, shape: [.symbolic("batch"), .fixed(1000)]))

        var ops: [String: Int] = [:]
        for n in g.nodes { ops[n.opType, default: 0] += 1 }
        #expect(ops == ["Add": 8, "Conv": 20, "Flatten": 1, "Gemm": 1, "GlobalAveragePool": 1, "MaxPool": 1, "Relu": 17])

        let conv = g.nodes[0]
        #expect(conv.name == "/conv1/Conv")
        #expect(conv.opType == "Conv")
        #expect(conv.domain == "")
        #expect(conv.inputs == ["input", "onnx::Conv_193", "onnx::Conv_194"])
        #expect(conv.outputs == ["/conv1/Conv_output_0"])
        #expect(try conv.ints("kernel_shape") == [7, 7])
        #expect(try conv.ints("strides") == [2, 2])
        #expect(try conv.ints("pads") == [3, 3, 3, 3])
        #expect(try conv.int("group") == 1)
        #expect(throws: CAMError.self) { try conv.float("group") }

        let fcW = try #require(g.initializers["fc.weight"])
        #expect(fcW.shape == [1000, 512])
        #expect(fcW.dtype == .float32)
        #expect(fcW.toFloats()[0] == 0.04029504582285881)
        #expect(fcW.toFloats()[1] == -0.011555037461221218)
        #expect(fcW.toFloats()[511_999] == -0.017048979178071022)
        #expect(abs(fcW.toFloats().reduce(0.0) { $0 + Double($1) } - -2.438093323983585) < 1e-6)
        let fcB = try #require(g.initializers["fc.bias"])
        #expect(fcB.shape == [1000])
        #expect(fcB.toFloats()[999] == 0.03766453638672829)
        let stem = try #require(g.initializers["onnx::Conv_193"])
        #expect(stem.shape == [64, 3, 7, 7])
        #expect(stem.toFloats()[2] == 0.018129348754882812)
    }

    @Test("EfficientNet-Lite0 (Constant nodes, int64 constants)", .enabled(if: ProtoFixtures.exists(ProtoFixtures.efficientnetLite0)))
    func efficientnet() throws {
        let model = try ONNXModelFile.parse(path: ProtoFixtures.efficientnetLite0)
        let g = model.graph
        #expect(model.defaultOpset == 17)
        #expect(g.nodes.count == 456)
        #expect(g.initializers.count == 100)
        let constants = g.nodes.filter { $0.opType == "Constant" }
        #expect(constants.count == 222)
        #expect(g.nodes.filter { $0.opType == "Conv" }.count == 49)
        #expect(g.nodes.filter { $0.opType == "Pad" }.count == 17)

        // Every Constant decodes.
        for c in constants { _ = try c.constantValue() }

        let first = try #require(g.nodes.first { $0.name == "/Constant" })
        let scalar = try first.constantValue()
        #expect(scalar.shape == [])
        #expect(scalar.dtype == .int64)
        #expect(scalar.toInt64s()[0] == 0)
        let pads = try #require(g.nodes.first { $0.name == "/_conv_stem/static_padding/Constant_1" }).constantValue()
        #expect(pads.shape == [4])
        #expect(pads.toInt64s() == [0, 1, 0, 1])
        let minusOne = try #require(g.nodes.first { $0.name == "/_conv_stem/static_padding/Constant_2" }).constantValue()
        #expect(minusOne.toInt64s() == [-1, 2])

        let w = try #require(g.initializers["_fc.weight"])
        #expect(w.shape == [1000, 1280])
        #expect(w.toFloats()[0] == -0.04561043530702591)
        #expect(w.toFloats()[1_279_999] == 0.04085797071456909)
        #expect(abs(w.toFloats().reduce(0.0) { $0 + Double($1) } - -470.63256730128705) < 1e-3)
        let stem = try #require(g.initializers["onnx::Conv_911"])
        #expect(stem.shape == [32, 3, 3, 3])
        #expect(stem.toFloats()[0] == -5.4510498046875)
    }

    @Test("PP-OCR direction classifier (Paddle export, opset 11, typed-field constants)",
          .enabled(if: ProtoFixtures.exists(ProtoFixtures.ppocrCls)))
    func ppocrCls() throws {
        let model = try ONNXModelFile.parse(path: ProtoFixtures.ppocrCls)
        #expect(model.irVersion == 7)
        #expect(model.producerName == "PaddlePaddle")
        #expect(model.opsetImports == ["": 11])
        let g = model.graph
        #expect(g.name == "paddle-onnx")
        #expect(g.nodes.count == 566)
        #expect(g.initializers.isEmpty)
        #expect(g.nodes.filter { $0.opType == "Constant" }.count == 308)
        #expect(g.nodes.filter { $0.opType == "BatchNormalization" }.count == 35)
        // Paddle leaves Constant nodes unnamed and writes -1 / "?" for unknown dimensions.
        #expect(g.nodes.filter { $0.name.isEmpty }.count == 308)
        #expect(g.nodes[0].label == "node #0 (Constant)")
        #expect(g.inputs.count == 1)
        #expect(g.inputs[0].name == "x")
        #expect(g.inputs[0].type == .tensor(elementType: .float, shape: [.unknown, .fixed(3), .symbolic("?"), .symbolic("?")]))
        #expect(g.outputs[0].name == "save_infer_model/scale_0.tmp_1")

        let scale = try g.nodes[0].constantValue()
        #expect(g.nodes[0].outputs == ["conv12_depthwise_bn_scale"])
        #expect(scale.shape == [200])
        #expect(scale.toFloats()[0] == 1.060918927192688)
        #expect(scale.toFloats()[7] == 1.1013379096984863)
        let shape4 = try #require(g.nodes.first { $0.outputs == ["Constant@4"] }).constantValue()
        #expect(shape4.dtype == .int64)
        #expect(shape4.toInt64s() == [1, 2, 1, 1])

        let hardSigmoid = try #require(g.nodes.first { $0.opType == "HardSigmoid" })
        #expect(try hardSigmoid.float("alpha") != nil)
        for c in g.nodes where c.opType == "Constant" { _ = try c.constantValue() }
    }

    @Test("DeiT-tiny (transformer: Split, Where, LayerNormalization)", .enabled(if: ProtoFixtures.exists(ProtoFixtures.deitTiny)))
    func deit() throws {
        let model = try ONNXModelFile.parse(path: ProtoFixtures.deitTiny)
        let g = model.graph
        #expect(model.defaultOpset == 17)
        #expect(g.nodes.count == 906)
        #expect(g.initializers.count == 107)
        #expect(g.nodes.filter { $0.opType == "Constant" }.count == 251)
        #expect(g.nodes.filter { $0.opType == "MatMul" }.count == 72)
        #expect(g.nodes.filter { $0.opType == "LayerNormalization" }.count == 25)
        #expect(g.nodes.filter { $0.opType == "Identity" }.count == 45)

        let cls = try #require(g.initializers["cls_token"])
        #expect(cls.shape == [1, 1, 192])
        #expect(cls.toFloats()[0] == -1.324382537859492e-06)
        let pos = try #require(g.initializers["pos_embed"])
        #expect(pos.shape == [1, 197, 192])
        #expect(pos.toFloats()[pos.count - 1] == -0.008929243311285973)
        let patch = try #require(g.initializers["patch_embed.proj.weight"])
        #expect(patch.shape == [192, 3, 16, 16])

        let ln = try #require(g.nodes.first { $0.opType == "LayerNormalization" })
        #expect(try ln.int("axis") == -1)
        #expect(try ln.float("epsilon") != nil)
        let cos = try #require(g.nodes.first { $0.name == "/ConstantOfShape" })
        let fill = try #require(try cos.tensor("value"))
        #expect(fill.count == 1)
    }

    @Test("Parse time of ResNet-18 is reported", .enabled(if: ProtoFixtures.exists(ProtoFixtures.resnet18)))
    func resnet18ParseTime() throws {
        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        for _ in 0..<3 {
            let elapsed = try clock.measure { _ = try ONNXModelFile.parse(path: ProtoFixtures.resnet18) }
            best = min(best, elapsed)
        }
        print("ResNet-18 model.onnx (47 MB) parse time, best of 3: \(best)")
    }
}

#endif
