import CAMCore
import ONNXProto

/// Converts an unpacked protobuf-c `ModelProto` into ``ONNXModel`` values, validating each field
/// on the way. Every error is prefixed with the file and names the graph element at fault.
struct ModelProtoConverter {
    let source: String
    let decoder: ONNXTensorDecoder

    private func invalid(_ message: String) -> CAMError {
        CAMError(.invalidModel, "\(source): \(message)")
    }

    // MARK: Model

    func model(_ proto: UnsafePointer<Onnx__ModelProto>) throws -> ONNXModel {
        let m = proto.pointee
        guard m.has_ir_version != 0 else { throw invalid("ModelProto has no ir_version") }
        guard m.ir_version >= 1 else { throw invalid("ir_version is \(m.ir_version); expected ≥ 1") }

        var opsets: [String: Int64] = [:]
        for (i, entry) in cArray(m.opset_import, m.n_opset_import).enumerated() {
            guard let entry else { continue }
            let raw = cString(entry.pointee.domain)
            let domain = ONNXModel.normalizedDomain(raw)
            guard entry.pointee.has_version != 0, entry.pointee.version >= 1 else {
                throw invalid("opset_import #\(i) (domain '\(raw)') has no valid version;"
                    + " expected ≥ 1, found \(entry.pointee.has_version != 0 ? String(entry.pointee.version) : "none")")
            }
            if let previous = opsets[domain], previous != entry.pointee.version {
                throw invalid("opset_import lists domain '\(raw)' twice, with versions \(previous) and \(entry.pointee.version)")
            }
            opsets[domain] = entry.pointee.version
        }
        if opsets.isEmpty {
            // IR versions 1 and 2 predate opset_import and mean opset 1.
            guard m.ir_version < 3 else {
                throw invalid("opset_import is empty; a model with ir_version \(m.ir_version) must import an operator set")
            }
            opsets[""] = 1
        }

        guard let graphProto = m.graph else { throw invalid("ModelProto has no graph") }

        var metadata: [String: String] = [:]
        for (key, value) in stringPairs(m.metadata_props, m.n_metadata_props) { metadata[key] = value }
        let functions = cArray(m.functions, m.n_functions).compactMap { f -> String? in
            guard let f else { return nil }
            return "\(cString(f.pointee.domain)):\(cString(f.pointee.name))"
        }

        return ONNXModel(
            source: source,
            irVersion: m.ir_version,
            producerName: cString(m.producer_name),
            producerVersion: cString(m.producer_version),
            domain: cString(m.domain),
            modelVersion: m.has_model_version != 0 ? m.model_version : 0,
            opsetImports: opsets,
            metadata: metadata,
            functions: functions,
            graph: try graph(graphProto))
    }

    // MARK: Graph

    func graph(_ proto: UnsafePointer<Onnx__GraphProto>) throws -> ONNXGraph {
        let g = proto.pointee
        if g.n_sparse_initializer > 0 {
            let first = cArray(g.sparse_initializer, g.n_sparse_initializer).first.flatMap { $0 }
            let name = first.flatMap { $0.pointee.values }.map { cString($0.pointee.name) } ?? ""
            throw CAMError(.unsupported, "\(source): the graph has \(g.n_sparse_initializer) sparse initializer(s)"
                + " (first: '\(name)'); sparse tensors are not supported")
        }

        let inputs = try valueInfos(g.input, g.n_input, role: "graph input")
        let outputs = try valueInfos(g.output, g.n_output, role: "graph output")
        let valueInfo = try valueInfos(g.value_info, g.n_value_info, role: "value_info entry")
        try requireUniqueNames(inputs, role: "graph input")
        try requireUniqueNames(outputs, role: "graph output")

        var initializers: [String: Tensor] = [:]
        var initializerNames: [String] = []
        initializers.reserveCapacity(g.n_initializer)
        for (i, t) in cArray(g.initializer, g.n_initializer).enumerated() {
            guard let t else { continue }
            let name = cString(t.pointee.name)
            guard !name.isEmpty else { throw invalid("initializer #\(i) has no name") }
            guard initializers[name] == nil else { throw invalid("two initializers are named '\(name)'") }
            initializers[name] = try decoder.decode(t, label: "initializer '\(name)'")
            initializerNames.append(name)
        }
        let realInputs = inputs.filter { initializers[$0.name] == nil }

        var nodes: [ONNXNode] = []
        nodes.reserveCapacity(g.n_node)
        for (i, n) in cArray(g.node, g.n_node).enumerated() {
            guard let n else { continue }
            nodes.append(try node(n, index: i))
        }
        try requireSingleDefinitions(inputs: inputs, initializerNames: initializerNames, nodes: nodes)

        return ONNXGraph(name: cString(g.name), inputs: inputs, realInputs: realInputs, outputs: outputs,
                         initializers: initializers, initializerNames: initializerNames, nodes: nodes,
                         valueInfo: valueInfo)
    }

    private func requireUniqueNames(_ infos: [ONNXValueInfo], role: String) throws {
        var seen = Set<String>()
        for v in infos where !seen.insert(v.name).inserted {
            throw invalid("two \(role)s are named '\(v.name)'")
        }
    }

    /// ONNX graphs are in SSA form: each value is defined once, by a graph input, an initializer
    /// (which may share its name with an input, as a default value) or one node output.
    private func requireSingleDefinitions(inputs: [ONNXValueInfo], initializerNames: [String],
                                          nodes: [ONNXNode]) throws {
        var definedBy: [String: String] = [:]
        for v in inputs { definedBy[v.name] = "graph input '\(v.name)'" }
        for name in initializerNames where definedBy[name] == nil { definedBy[name] = "initializer '\(name)'" }
        for node in nodes {
            for output in node.outputs where !output.isEmpty {
                if let previous = definedBy[output] {
                    throw invalid("\(node.label) writes '\(output)', which \(previous) already defines;"
                        + " each value must be defined exactly once")
                }
                definedBy[output] = node.label
            }
        }
    }

    // MARK: Values and types

    private func valueInfos(_ list: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__ValueInfoProto>?>?,
                            _ n: Int, role: String) throws -> [ONNXValueInfo] {
        try cArray(list, n).enumerated().compactMap { i, v in
            guard let v else { return nil }
            let name = cString(v.pointee.name)
            guard !name.isEmpty else { throw invalid("\(role) #\(i) has no name") }
            return ONNXValueInfo(name: name, type: try valueType(v.pointee.type, of: "\(role) '\(name)'"))
        }
    }

    private func valueType(_ proto: UnsafePointer<Onnx__TypeProto>?, of what: String) throws -> ONNXValueType {
        guard let tp = proto?.pointee else { return .unspecified }
        switch tp.value_case {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            guard let t = tp.tensor_type?.pointee else { return .unspecified }
            return .tensor(elementType: try elementType(t.has_elem_type, t.elem_type, of: what),
                           shape: t.shape.map { dims($0) })
        case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
            guard let t = tp.sparse_tensor_type?.pointee else { return .unspecified }
            return .sparseTensor(elementType: try elementType(t.has_elem_type, t.elem_type, of: what),
                                 shape: t.shape.map { dims($0) })
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
            return .sequence(try tp.sequence_type.flatMap { s in
                try s.pointee.elem_type.map { try valueType($0, of: "the elements of \(what)") }
            })
        case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
            return .optional(try tp.optional_type.flatMap { o in
                try o.pointee.elem_type.map { try valueType($0, of: "the value of \(what)") }
            })
        case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
            guard let mt = tp.map_type?.pointee else { return .unspecified }
            return .map(key: try elementType(mt.has_key_type, mt.key_type, of: "the keys of \(what)"),
                        value: try mt.value_type.map { try valueType($0, of: "the values of \(what)") })
        case ONNX__TYPE_PROTO__VALUE_OPAQUE_TYPE:
            guard let o = tp.opaque_type?.pointee else { return .unspecified }
            return .opaque(domain: cString(o.domain), name: cString(o.name))
        default:
            return .unspecified
        }
    }

    private func elementType(_ has: protobuf_c_boolean, _ code: Int32, of what: String) throws -> ONNXElementType {
        guard has != 0 else { return .undefined }
        guard let t = ONNXElementType(rawValue: code) else {
            throw invalid("\(what) has element type \(code), which is not an ONNX data type")
        }
        return t
    }

    private func dims(_ shape: UnsafePointer<Onnx__TensorShapeProto>) -> [ONNXDimension] {
        cArray(shape.pointee.dim, shape.pointee.n_dim).map { d -> ONNXDimension in
            guard let d = d?.pointee else { return .unknown }
            switch d.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                return d.dim_value >= 0 ? .fixed(Int(d.dim_value)) : .unknown
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                let name = cString(d.dim_param)
                return name.isEmpty ? .unknown : .symbolic(name)
            default:
                return .unknown
            }
        }
    }

    // MARK: Nodes and attributes

    func node(_ proto: UnsafePointer<Onnx__NodeProto>, index: Int) throws -> ONNXNode {
        let n = proto.pointee
        let name = cString(n.name)
        let opType = cString(n.op_type)
        guard !opType.isEmpty else {
            throw invalid(name.isEmpty ? "node #\(index) has no op_type" : "node #\(index) ('\(name)') has no op_type")
        }
        let domain = ONNXModel.normalizedDomain(cString(n.domain))
        let inputs = cArray(n.input, n.n_input).map { cString($0) }
        let outputs = cArray(n.output, n.n_output).map { cString($0) }
        let label = ONNXNode(index: index, name: name, opType: opType, domain: domain, inputs: [],
                             outputs: [], attributes: [:]).label

        var attributes: [String: ONNXAttribute] = [:]
        for a in cArray(n.attribute, n.n_attribute) {
            guard let a else { continue }
            let (attributeName, value) = try attribute(a, nodeLabel: label)
            guard attributes[attributeName] == nil else {
                throw invalid("\(label) has two attributes named '\(attributeName)'")
            }
            attributes[attributeName] = value
        }
        return ONNXNode(index: index, name: name, opType: opType, domain: domain, inputs: inputs,
                        outputs: outputs, attributes: attributes)
    }

    private func attribute(_ proto: UnsafePointer<Onnx__AttributeProto>, nodeLabel: String) throws -> (String, ONNXAttribute) {
        let a = proto.pointee
        let name = cString(a.name)
        guard !name.isEmpty else { throw invalid("\(nodeLabel) has an attribute with no name") }
        let what = "\(nodeLabel): attribute '\(name)'"
        let reference = cString(a.ref_attr_name)
        guard reference.isEmpty else {
            throw invalid("\(what) refers to function attribute '\(reference)'; attribute references are only valid inside a function body")
        }

        var type = a.has_type != 0 ? Int(a.type.rawValue) : 0
        if type == 0 { type = try inferredType(a, what: what) }

        switch type {
        case 1: return (name, .float(a.f))
        case 2: return (name, .int(a.i))
        case 3: return (name, .string(binaryString(a.s)))
        case 4:
            guard let t = a.t else { throw invalid("\(what) is TENSOR but holds no tensor") }
            return (name, .tensor(try decoder.decode(t, label: what)))
        case 5:
            guard let g = a.g else { throw invalid("\(what) is GRAPH but holds no graph") }
            return (name, .graph(summary(g)))
        case 6: return (name, .floats(Array(cArray(a.floats, a.n_floats))))
        case 7: return (name, .ints(Array(cArray(a.ints, a.n_ints))))
        case 8: return (name, .strings(cArray(a.strings, a.n_strings).map { binaryString($0) }))
        case 9:
            let tensors = try cArray(a.tensors, a.n_tensors).enumerated().compactMap { i, t in
                try t.map { try decoder.decode($0, label: "\(what), tensor #\(i)") }
            }
            return (name, .tensors(tensors))
        case 10: return (name, .graphs(cArray(a.graphs, a.n_graphs).compactMap { $0.map { summary($0) } }))
        case 11: return (name, .unsupported("SPARSE_TENSOR"))
        case 12: return (name, .unsupported("SPARSE_TENSORS"))
        case 13: return (name, .unsupported("TYPE_PROTO"))
        case 14: return (name, .unsupported("TYPE_PROTOS"))
        default:
            throw invalid("\(what) has type \(type), which is not an ONNX attribute type")
        }
    }

    /// IR version 1 files may leave `AttributeProto.type` unset; the value field set tells it.
    private func inferredType(_ a: Onnx__AttributeProto, what: String) throws -> Int {
        let candidates: [(Bool, Int)] = [
            (a.has_f != 0, 1), (a.has_i != 0, 2), (a.has_s != 0, 3), (a.t != nil, 4), (a.g != nil, 5),
            (a.n_floats > 0, 6), (a.n_ints > 0, 7), (a.n_strings > 0, 8), (a.n_tensors > 0, 9),
            (a.n_graphs > 0, 10), (a.sparse_tensor != nil, 11), (a.n_sparse_tensors > 0, 12),
            (a.tp != nil, 13), (a.n_type_protos > 0, 14),
        ]
        let set = candidates.filter { $0.0 }.map { $0.1 }
        guard set.count == 1 else {
            throw invalid(set.isEmpty ? "\(what) has no type and no value"
                                      : "\(what) has no type and sets \(set.count) different value fields")
        }
        return set[0]
    }

    private func summary(_ g: UnsafePointer<Onnx__GraphProto>) -> ONNXSubgraphSummary {
        ONNXSubgraphSummary(name: cString(g.pointee.name), nodeCount: g.pointee.n_node)
    }
}
