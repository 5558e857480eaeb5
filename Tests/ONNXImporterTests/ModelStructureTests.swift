// Compiled only where the importer module is importable: in the final package the plugin is
// loaded with dlopen, so the test target must depend on it (or a library of it) to run these.
#if canImport(ONNXFormat)
import CAMCore
import Foundation
import ONNXFormat
import Testing

/// Graph-level conversion and validation on hand-built models.
@Suite("Model structure")
struct ModelStructureTests {
    typealias B = ONNXProtoBuilder

    func parse(_ m: ProtoWriter) throws -> ONNXModel {
        try ONNXModelFile.parse(data: m.data, source: "m.onnx")
    }

    /// `Conv(x, w, "")` with `w` also listed as a graph input, plus a value_info entry.
    func convModel(opsets: [(String, Int64)] = [("ai.onnx", 13), ("com.example", 2)]) -> ProtoWriter {
        let w = B.tensor(name: "w", dims: [2, 1, 1, 1], dataType: 1, data: .floats([0.5, -1]))
        let conv = B.node("Conv", name: "conv", inputs: ["x", "w", ""], outputs: ["y"], attributes: [
            B.attribute("strides", type: 7) { $0.packedVarints(8, [1, 1]) },
            B.attribute("auto_pad", type: 3) { $0.string(4, "NOTSET") },
            B.attribute("alpha", type: nil) { $0.float(2, 0.25) },   // type left out, as IR v1 did
            B.attribute("names", type: 8) { $0.string(9, "a"); $0.string(9, "b") },
        ], domain: "ai.onnx")
        let relu = B.node("Relu", inputs: ["y"], outputs: ["z"])
        return B.model(graph: B.graph(name: "net", nodes: [conv, relu], initializers: [w],
                                      inputs: [B.valueInfo("x", elemType: 1, dims: ["N", 1, 4, 4]),
                                               B.valueInfo("w", elemType: 1, dims: [2, 1, 1, 1])],
                                      outputs: [B.valueInfo("z", elemType: 1, dims: ["N", 2, 4, 4])],
                                      valueInfo: [B.valueInfo("y", elemType: 1, dims: ["N", 2, -1, 4])]),
                       opsets: opsets)
    }

    @Test("Inputs, initializers, nodes, attributes and value_info convert")
    func converts() throws {
        let m = try parse(convModel())
        #expect(m.opsetImports == ["": 13, "com.example": 2])
        #expect(m.defaultOpset == 13 && m.opset(forDomain: "ai.onnx") == 13)
        #expect(m.producerName == "tests" && m.producerVersion == "1.0")
        let g = m.graph
        #expect(g.name == "net")
        #expect(g.inputs.map(\.name) == ["x", "w"])
        #expect(g.realInputs.map(\.name) == ["x"])
        #expect(g.initializerNames == ["w"])
        #expect(g.initializers["w"]?.toFloats() == [0.5, -1])
        #expect(g.inputs[0].type.tensorShape == [.symbolic("N"), .fixed(1), .fixed(4), .fixed(4)])
        #expect(g.valueInfo.count == 1)
        #expect(g.valueInfo[0].type == .tensor(elementType: .float, shape: [.symbolic("N"), .fixed(2), .unknown, .fixed(4)]))

        let conv = g.nodes[0]
        #expect(conv.domain == "" && conv.isDefaultDomain)
        #expect(conv.inputs == ["x", "w", ""])         // omitted bias kept as ""
        #expect(try conv.ints("strides") == [1, 1])
        #expect(try conv.string("auto_pad") == "NOTSET")
        #expect(try conv.float("alpha") == 0.25)
        #expect(try conv.strings("names") == ["a", "b"])
        #expect(try conv.int("group") == nil)
        let wrong = expectCAMError { try conv.ints("auto_pad") as Any }
        #expect(wrong?.message == "node 'conv' (Conv): attribute 'auto_pad' is STRING, expected INTS")
        #expect(g.nodes[1].label == "node #1 (Relu)")
    }

    @Test("Constant value forms")
    func constants() throws {
        let nodes = [
            B.node("Constant", name: "f", inputs: [], outputs: ["a"], attributes: [B.attribute("value_float", type: 1) { $0.float(2, 2.5) }]),
            B.node("Constant", name: "fs", inputs: [], outputs: ["b"], attributes: [B.attribute("value_floats", type: 6) { $0.packedFloats(7, [1, 2]) }]),
            B.node("Constant", name: "i", inputs: [], outputs: ["c"], attributes: [B.attribute("value_int", type: 2) { $0.int(3, -7) }]),
            B.node("Constant", name: "is", inputs: [], outputs: ["d"], attributes: [B.attribute("value_ints", type: 7) { $0.packedVarints(8, [3, 4, 5]) }]),
            B.node("Constant", name: "t", inputs: [], outputs: ["e"], attributes: [B.attribute("value", type: 4) {
                $0.message(5, B.tensor(name: "", dims: [2], dataType: 6, data: .int32s([9, -9])))
            }]),
            B.node("Constant", name: "s", inputs: [], outputs: ["f"], attributes: [B.attribute("value_string", type: 3) { $0.string(4, "hi") }]),
        ]
        let m = try parse(B.model(graph: B.graph(nodes: nodes, inputs: [], outputs: [B.valueInfo("a", elemType: 1, dims: [])])))
        let g = m.graph.nodes
        let a = try g[0].constantValue()
        #expect(a.shape == [] && a.toFloats() == [2.5])
        #expect(try g[1].constantValue().toFloats() == [1, 2])
        let c = try g[2].constantValue()
        #expect(c.shape == [] && c.toInt64s() == [-7])
        #expect(try g[3].constantValue().shape == [3])
        #expect(try g[4].constantValue().toInt64s() == [9, -9])
        let s = expectCAMError { try g[5].constantValue() }
        #expect(s?.kind == .unsupported)
        #expect(s?.message.contains("node 's' (Constant) produces a string constant") == true)
    }

    @Test("Subgraph attributes are recorded, not decoded")
    func subgraphs() throws {
        let body = B.graph(name: "then_body", nodes: [B.node("Identity", inputs: ["x"], outputs: ["o"])],
                           inputs: [], outputs: [B.valueInfo("o", elemType: 1, dims: [])])
        let ifNode = B.node("If", name: "branch", inputs: ["cond"], outputs: ["y"], attributes: [
            B.attribute("then_branch", type: 5) { $0.message(6, body) },
            B.attribute("else_branch", type: 5) { $0.message(6, body) },
        ])
        let m = try parse(B.model(graph: B.graph(nodes: [ifNode], inputs: [B.valueInfo("cond", elemType: 9, dims: [])],
                                                 outputs: [B.valueInfo("y", elemType: 1, dims: [])])))
        let node = m.graph.nodes[0]
        #expect(node.subgraphAttributeNames == ["else_branch", "then_branch"])
        guard case .graph(let summary)? = node.attributes["then_branch"] else {
            Issue.record("then_branch is not a graph attribute")
            return
        }
        #expect(summary == ONNXSubgraphSummary(name: "then_body", nodeCount: 1))
        #expect(m.graph.inputs[0].type.tensorElementType == .bool)
    }

    @Test("Structural errors name what is wrong", arguments: [
        ("no op_type", "node #0 ('n') has no op_type"),
        ("duplicate initializer", "two initializers are named 'w'"),
        ("two producers", "node #1 (Relu) writes 'y', which node 'n' (Relu) already defines"),
        ("duplicate attribute", "node 'n' (Relu) has two attributes named 'a'"),
        ("untyped empty attribute", "node 'n' (Relu): attribute 'a' has no type and no value"),
        ("bad attribute type", "attribute 'a' has type 99, which is not an ONNX attribute type"),
        ("string initializer", "initializer 'w' is a STRING tensor"),
        ("string constant", "node 'n' (Constant): attribute 'value' is a STRING tensor"),
        ("unnamed input", "graph input #0 has no name"),
        ("bad elem type", "graph input 'x' has element type 77"),
        ("attribute reference", "refers to function attribute 'alpha'"),
    ])
    func structuralErrors(kind: String, expected: String) throws {
        let w = B.tensor(name: "w", dims: [1], dataType: 1, data: .floats([1]))
        var nodes = [B.node("Relu", name: "n", inputs: ["x"], outputs: ["y"])]
        var inits: [ProtoWriter] = []
        var inputs = [B.valueInfo("x", elemType: 1, dims: [1])]
        switch kind {
        case "no op_type": nodes = [B.node("", name: "n", inputs: ["x"], outputs: ["y"])]
        case "duplicate initializer": inits = [w, w]
        case "two producers": nodes.append(B.node("Relu", inputs: ["x"], outputs: ["y"]))
        case "duplicate attribute":
            let a = B.attribute("a", type: 2) { $0.int(3, 1) }
            nodes = [B.node("Relu", name: "n", inputs: ["x"], outputs: ["y"], attributes: [a, a])]
        case "untyped empty attribute":
            nodes = [B.node("Relu", name: "n", inputs: ["x"], outputs: ["y"], attributes: [B.attribute("a", type: nil) { _ in }])]
        case "bad attribute type":
            nodes = [B.node("Relu", name: "n", inputs: ["x"], outputs: ["y"], attributes: [B.attribute("a", type: 99) { $0.int(3, 1) }])]
        case "string initializer": inits = [B.tensor(name: "w", dims: [1], dataType: 8, data: .none)]
        case "string constant":
            nodes = [B.node("Constant", name: "n", inputs: [], outputs: ["y"], attributes: [B.attribute("value", type: 4) {
                $0.message(5, B.tensor(name: "", dims: [], dataType: 8, data: .none))
            }])]
        case "unnamed input": inputs = [B.valueInfo("", elemType: 1, dims: [1])]
        case "bad elem type": inputs = [B.valueInfo("x", elemType: 77, dims: [1])]
        case "attribute reference":
            nodes = [B.node("Relu", name: "n", inputs: ["x"], outputs: ["y"], attributes: [B.attribute("a", type: 1) { $0.string(21, "alpha") }])]
        default: Issue.record("unknown case \(kind)")
        }
        let model = B.model(graph: B.graph(nodes: nodes, initializers: inits, inputs: inputs,
                                           outputs: [B.valueInfo("y", elemType: 1, dims: [1])]))
        let e = expectCAMError { try parse(model) }
        #expect(e?.message.hasPrefix("m.onnx") == true)
        #expect(e?.message.contains(expected) == true, "\(e?.message ?? "")")
    }

    @Test("Model header errors")
    func headerErrors() throws {
        let graph = B.graph(nodes: [B.node("Relu", inputs: ["x"], outputs: ["y"])], inputs: [], outputs: [])
        let noIR = expectCAMError { try parse(B.model(graph: graph, irVersion: nil)) }
        #expect(noIR?.message == "m.onnx: ModelProto has no ir_version")
        let noOpset = expectCAMError { try parse(B.model(graph: graph, opsets: [])) }
        #expect(noOpset?.message.contains("opset_import is empty") == true)
        let clash = expectCAMError { try parse(B.model(graph: graph, opsets: [("", 13), ("ai.onnx", 17)])) }
        #expect(clash?.message.contains("lists domain 'ai.onnx' twice, with versions 13 and 17") == true)
        let zero = expectCAMError { try parse(B.model(graph: graph, opsets: [("", 0)])) }
        #expect(zero?.message.contains("has no valid version") == true)
        // IR version 1/2 models predate opset_import: opset 1.
        #expect(try parse(B.model(graph: graph, irVersion: 2, opsets: [])).defaultOpset == 1)
    }
}

#endif
