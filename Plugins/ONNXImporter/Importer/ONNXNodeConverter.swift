import CAMCore
import ONNXFormat

/// One ONNX node being translated: its attributes (with ONNX's defaults), its inputs as graph
/// values, and a way to emit one or more runtime nodes.
final class ONNXNodeConverter {
    let node: ONNXNode
    let opset: Int64
    let source: String
    /// The node's inputs; converters may append constants (attributes that later opsets made inputs).
    var inputs: [ValueID?]
    let outputs: [ValueID]

    init(node: ONNXNode, opset: Int64, source: String, inputs: [ValueID?], outputs: [ValueID]) {
        self.node = node
        self.opset = opset
        self.source = source
        self.inputs = inputs
        self.outputs = outputs
    }

    // MARK: Attributes with defaults

    func int(_ name: String, _ dflt: Int) throws -> Int { try node.int(name).map { Int(clamping: $0) } ?? dflt }
    func float(_ name: String, _ dflt: Float) throws -> Float { try node.float(name) ?? dflt }
    func string(_ name: String, _ dflt: String) throws -> String { try node.string(name) ?? dflt }
    func ints(_ name: String) throws -> [Int]? { try node.ints(name)?.map { Int(clamping: $0) } }
    func bool(_ name: String, _ dflt: Bool) throws -> Bool { try int(name, dflt ? 1 : 0) != 0 }

    /// A required attribute.
    func requiredInts(_ name: String) throws -> [Int] {
        guard let v = try ints(name) else { throw CAMError(.invalidModel, "attribute '\(name)' is required") }
        return v
    }

    /// Input `i`, which must be present.
    func input(_ i: Int) throws -> ValueID {
        guard i < inputs.count, let v = inputs[i] else { throw CAMError(.invalidModel, "input \(i) is required") }
        return v
    }

    /// Requires between `min` and `max` inputs.
    func expectInputs(_ min: Int, _ max: Int? = nil) throws {
        let n = inputs.count
        guard n >= min, n <= (max ?? min) else {
            throw CAMError(.invalidModel, "has \(n) inputs; expected \(max == nil ? "\(min)" : "\(min)–\(max!)")")
        }
    }

    /// Requires at most `max` outputs.
    func expectOutputs(_ max: Int) throws {
        guard outputs.count <= max, !outputs.isEmpty else {
            throw CAMError(.unsupported, "has \(outputs.count) outputs; only \(max == 1 ? "one is" : "\(max) are") supported")
        }
    }

    /// The `auto_pad` / `pads` attributes as a `Padding`.
    func padding() throws -> Padding {
        switch try string("auto_pad", "NOTSET") {
        case "NOTSET", "": return .explicit(try ints("pads") ?? [])
        case "SAME_UPPER": return .sameUpper
        case "SAME_LOWER": return .sameLower
        case "VALID": return .valid
        case let other: throw CAMError(.invalidModel, "auto_pad '\(other)' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
    }
}

/// Emitting nodes into the graph.
extension ONNXNodeConverter {
    /// Emits `op` reading `inputs` (default: the node's) and writing the node's outputs.
    func emit(_ op: any Operator, _ ins: [ValueID?]? = nil, into graph: inout Graph) {
        graph.nodes.append(Node(name: node.name, op: op, inputs: ins ?? inputs, outputs: outputs))
    }

    /// Emits an intermediate node with fresh outputs.
    func emitIntermediate(_ op: any Operator, _ ins: [ValueID?], into graph: inout Graph, outputs count: Int = 1) -> [ValueID] {
        let outs = (0..<count).map { graph.addFreshValue("\(node.name)/\(op.name)_\($0)") }
        graph.nodes.append(Node(name: "\(node.name)/\(op.name)", op: op, inputs: ins, outputs: outs))
        return outs
    }

    /// A constant value (e.g. an attribute that later opsets pass as an input).
    func constant(_ t: Tensor, _ hint: String, into graph: inout Graph) -> ValueID {
        graph.addConstant("\(node.name)/\(hint)", t)
    }

    /// An int64 1-D constant.
    func int64Constant(_ values: [Int], _ hint: String, into graph: inout Graph) -> ValueID {
        constant(Tensor(shape: [values.count], int64s: values.map(Int64.init)), hint, into: &graph)
    }
}
