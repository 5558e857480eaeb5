import CAMCore
import ONNXFormat

/// Turns a parsed `ONNXModel` into SwiftCAM's `Graph`: graph inputs and outputs, initializers
/// and Constant nodes as constants, and every node through the operator table.
struct ONNXGraphImporter {
    /// The default-domain opsets the operator table was written for. Where an operator's
    /// semantics changed between versions, the table converts the older form (attributes that
    /// became inputs, legacy broadcasting is refused).
    static let supportedOpsets: ClosedRange<Int64> = 1...22

    let model: ONNXModel

    func importGraph() throws -> Graph {
        let source = model.source
        let opset = model.defaultOpset ?? 0
        guard opset == 0 || Self.supportedOpsets.contains(opset) else {
            throw CAMError(.unsupported, "\(source): default-domain opset \(opset) is outside the supported range \(Self.supportedOpsets.lowerBound)–\(Self.supportedOpsets.upperBound); re-export the model at a supported opset")
        }
        let onnx = model.graph
        var graph = Graph()
        var ids: [String: ValueID] = [:]

        func define(_ name: String, _ what: String) throws -> ValueID {
            if ids[name] != nil { throw CAMError(.invalidModel, "\(source): '\(name)' is defined twice (again as \(what))") }
            let id = try graph.addValue(name)
            ids[name] = id
            return id
        }

        for (name, tensor) in onnx.initializers {
            graph.constants[try define(name, "an initializer")] = tensor
        }
        for input in onnx.realInputs {
            let id = try define(input.name, "a graph input")
            graph.inputs.append(id)
            graph.declare(id, dtype: input.type.tensorElementType.flatMap(Self.runtimeType),
                          shape: input.type.tensorShape.map { $0.map(\.value) })
        }
        for node in onnx.nodes {
            for out in node.outputs where !out.isEmpty { _ = try define(out, "an output of \(node.label)") }
        }

        for node in onnx.nodes {
            let nodeOpset = node.isDefaultDomain ? opset : (model.opset(forDomain: node.domain) ?? 0)
            if node.isDefaultDomain && opset == 0 {
                throw CAMError(.invalidModel, "\(source): \(node.label) is an ONNX operator but the model imports no default ('ai.onnx') opset")
            }
            guard node.isDefaultDomain else {
                throw CAMError(.unsupportedOperator, "\(source): \(node.label) is in domain '\(node.domain)' (opset \(nodeOpset)); only the default ONNX domain is supported")
            }
            if let sub = node.subgraphAttributeNames.first {
                throw CAMError(.unsupportedOperator, "\(source): \(node.label) has a sub-graph attribute '\(sub)'; control flow (If, Loop, Scan) is not supported")
            }
            var inputs: [ValueID?] = []
            for name in node.inputs {
                if name.isEmpty { inputs.append(nil); continue }
                guard let id = ids[name] else {
                    throw CAMError(.invalidModel, "\(source): \(node.label) reads '\(name)', which no node, initializer or graph input defines")
                }
                inputs.append(id)
            }
            let outputs = try node.outputs.map { name -> ValueID in
                guard !name.isEmpty else { return graph.addFreshValue("\(node.name)_unused_output") }
                return ids[name]!
            }
            let converter = ONNXNodeConverter(node: node, opset: nodeOpset, source: source, inputs: inputs, outputs: outputs)
            do {
                try ONNXOperatorTable.convert(converter, into: &graph)
            } catch let e as CAMError {
                throw CAMError(e.kind, e.message.hasPrefix(source) ? e.message : "\(source): \(node.label) at opset \(nodeOpset): \(e.message)")
            }
        }

        for output in onnx.outputs {
            guard let id = ids[output.name] else {
                throw CAMError(.invalidModel, "\(source): graph output '\(output.name)' is not produced by any node")
            }
            graph.outputs.append(id)
        }
        return graph
    }

    /// The runtime dtype an ONNX element type is read as (nil: not representable).
    static func runtimeType(_ t: ONNXElementType) -> DType? {
        switch t {
        case .float, .double, .float16, .bfloat16: return .float32
        case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64: return .int64
        case .bool: return .bool
        default: return nil
        }
    }
}
