import CAMCore

/// One tensor of a Keras functional graph: output `tensor` of call `node` of layer `layer`
/// (Keras's `keras_history` / inbound-node triple).
public struct KerasTensorRef: Sendable, Hashable, CustomStringConvertible {
    public let layer: String
    public let node: Int
    public let tensor: Int

    public init(layer: String, node: Int = 0, tensor: Int = 0) {
        self.layer = layer
        self.node = node
        self.tensor = tensor
    }

    public var description: String { "\(layer)[\(node)][\(tensor)]" }
}

/// One layer of a model config, in either Keras 2 or Keras 3 spelling, normalised: its class,
/// name, `config` object, and for each call (inbound node) the tensors it was called on.
public struct KerasLayer: Sendable {
    public let className: String
    public let name: String
    public let config: JSONValue
    /// One entry per call of the layer, each listing the input tensors in order. Empty for
    /// input layers.
    public var inboundNodes: [[KerasTensorRef]]
    /// The model, when this layer is itself a model (Functional, Model, Sequential).
    public let nestedModel: KerasModelConfig?

    public init(className: String, name: String, config: JSONValue, inboundNodes: [[KerasTensorRef]], nestedModel: KerasModelConfig?) {
        self.className = className
        self.name = name
        self.config = config
        self.inboundNodes = inboundNodes
        self.nestedModel = nestedModel
    }

    /// "'conv2d_1' (Conv2D)": how errors name the layer.
    public var label: String { "'\(name)' (\(className))" }
}

/// A Keras model's structure as a functional graph: layers, with the model's inputs and outputs
/// as tensor references. Sequential models are normalised into this form (each layer called
/// on the previous one's output).
public struct KerasModelConfig: Sendable {
    public enum Kind: String, Sendable { case functional, sequential }

    public let kind: Kind
    public let className: String
    public let name: String
    public let layers: [KerasLayer]
    public let inputs: [KerasTensorRef]
    public let outputs: [KerasTensorRef]

    /// The class names read as models.
    public static let modelClassNames: Set<String> = ["Functional", "Model", "Sequential"]

    public func layer(named name: String) -> KerasLayer? { layers.first { $0.name == name } }

    /// Parses a `model_config` JSON object (`{"class_name": ..., "config": ...}`).
    /// `what` prefixes error messages (the file name).
    public static func parse(_ json: JSONValue, what: String) throws -> KerasModelConfig {
        guard let className = json["class_name"]?.string else {
            throw CAMError(.invalidModel, "\(what): model_config has no 'class_name'")
        }
        guard modelClassNames.contains(className) else {
            throw CAMError(.unsupported, "\(what): the saved object is a '\(className)', not a Keras model (Functional, Model or Sequential)")
        }
        return try parseModel(className: className, config: json["config"] ?? .null, what: what, context: "model")
    }

    static func parseModel(className: String, config: JSONValue, what: String, context: String) throws -> KerasModelConfig {
        if className == "Sequential" {
            return try parseSequential(config, what: what, context: context)
        }
        return try parseFunctional(className: className, config, what: what, context: context)
    }

    // MARK: Functional

    static func parseFunctional(className: String, _ config: JSONValue, what: String, context: String) throws -> KerasModelConfig {
        guard let layerList = config["layers"]?.array else {
            throw CAMError(.invalidModel, "\(what): \(context) config has no 'layers' list")
        }
        let name = config["name"]?.string ?? "model"
        var layers: [KerasLayer] = []
        var seen = Set<String>()
        for (i, entry) in layerList.enumerated() {
            let layer = try parseLayer(entry, index: i, what: what, context: context, functional: true)
            guard seen.insert(layer.name).inserted else {
                throw CAMError(.invalidModel, "\(what): \(context) has two layers named '\(layer.name)'")
            }
            layers.append(layer)
        }
        let inputs = try tensorList(config["input_layers"], what: what, field: "\(context) input_layers")
        let outputs = try tensorList(config["output_layers"], what: what, field: "\(context) output_layers")
        guard !inputs.isEmpty else { throw CAMError(.invalidModel, "\(what): \(context) declares no input_layers") }
        guard !outputs.isEmpty else { throw CAMError(.invalidModel, "\(what): \(context) declares no output_layers") }
        for ref in inputs + outputs where !seen.contains(ref.layer) {
            throw CAMError(.invalidModel, "\(what): \(context) input/output '\(ref.layer)' is not one of its layers")
        }
        return KerasModelConfig(kind: .functional, className: className, name: name, layers: layers, inputs: inputs, outputs: outputs)
    }

    /// `[name, node, tensor]` or a list of them.
    static func tensorList(_ value: JSONValue?, what: String, field: String) throws -> [KerasTensorRef] {
        guard let array = value?.array else {
            throw CAMError(.invalidModel, "\(what): \(field) is missing or not a list")
        }
        if array.first?.string != nil { return [try tensorRef(value!, what: what, field: field)] }
        return try array.map { try tensorRef($0, what: what, field: field) }
    }

    static func tensorRef(_ value: JSONValue, what: String, field: String) throws -> KerasTensorRef {
        guard let a = value.array, a.count >= 3, let layer = a[0].string, let node = a[1].int, let tensor = a[2].int, node >= 0, tensor >= 0 else {
            throw CAMError(.invalidModel, "\(what): \(field) entry \(value.brief) is not [layer name, node index, tensor index]")
        }
        return KerasTensorRef(layer: layer, node: node, tensor: tensor)
    }

    /// One layer entry of a `layers` list.
    static func parseLayer(_ entry: JSONValue, index: Int, what: String, context: String, functional: Bool) throws -> KerasLayer {
        guard let className = entry["class_name"]?.string else {
            throw CAMError(.invalidModel, "\(what): \(context) layer #\(index) has no 'class_name'")
        }
        let config = entry["config"] ?? .object([:])
        guard let name = entry["name"]?.string ?? config["name"]?.string else {
            throw CAMError(.invalidModel, "\(what): \(context) layer #\(index) (\(className)) has no name")
        }
        let label = "\(context) layer '\(name)' (\(className))"
        var nested: KerasModelConfig?
        if modelClassNames.contains(className) {
            nested = try parseModel(className: className, config: config, what: what, context: "nested model '\(name)'")
        }
        var nodes: [[KerasTensorRef]] = []
        if functional, let inbound = entry["inbound_nodes"] {
            guard let list = inbound.array else {
                throw CAMError(.invalidModel, "\(what): \(label): inbound_nodes is not a list")
            }
            nodes = try list.map { try parseInboundNode($0, what: what, label: label) }
        }
        return KerasLayer(className: className, name: name, config: config, inboundNodes: nodes, nestedModel: nested)
    }

    /// One call of a layer: Keras 3's `{"args": [...], "kwargs": {...}}` (tensors are
    /// `__keras_tensor__` objects, possibly inside lists), or Keras 2's list of
    /// `[layer, node, tensor, kwargs]`.
    static func parseInboundNode(_ node: JSONValue, what: String, label: String) throws -> [KerasTensorRef] {
        if let object = node.object {
            var refs: [KerasTensorRef] = []
            try collectKerasTensors(object["args"] ?? .array([]), into: &refs, what: what, label: label)
            return refs
        }
        guard let list = node.array else {
            throw CAMError(.invalidModel, "\(what): \(label): inbound node \(node.brief) is neither a Keras 3 call nor a Keras 2 list")
        }
        return try list.map { ref in
            guard let a = ref.array, a.count >= 3, let layer = a[0].string, let n = a[1].int, let t = a[2].int, n >= 0, t >= 0 else {
                throw CAMError(.invalidModel, "\(what): \(label): inbound entry \(ref.brief) is not [layer, node, tensor, kwargs]")
            }
            return KerasTensorRef(layer: layer, node: n, tensor: t)
        }
    }

    static func collectKerasTensors(_ value: JSONValue, into refs: inout [KerasTensorRef], what: String, label: String) throws {
        switch value {
        case .array(let items):
            for item in items { try collectKerasTensors(item, into: &refs, what: what, label: label) }
        case .object(let o):
            if o["class_name"]?.string == "__keras_tensor__" {
                guard let history = o["config"]?["keras_history"] else {
                    throw CAMError(.invalidModel, "\(what): \(label): a Keras tensor without keras_history")
                }
                refs.append(try tensorRef(history, what: what, field: "\(label) keras_history"))
            }
        default:
            break
        }
    }

    // MARK: Sequential

    /// Keras 2.0–2.2 wrote a Sequential config as the bare list of layers; later versions as
    /// `{"name", "layers": [...]}`. The input shape is an InputLayer entry (tf.keras, Keras 3), the
    /// first layer's `batch_input_shape` (Keras 2) or `build_input_shape` (Keras 3).
    static func parseSequential(_ config: JSONValue, what: String, context: String) throws -> KerasModelConfig {
        let list: [JSONValue]
        var name = "sequential"
        if let a = config.array {
            list = a
        } else if let a = config["layers"]?.array {
            list = a
            name = config["name"]?.string ?? name
        } else {
            throw CAMError(.invalidModel, "\(what): \(context) (Sequential) config has no 'layers' list")
        }
        var parsed = try list.enumerated().map { try parseLayer($0.element, index: $0.offset, what: what, context: context, functional: false) }
        guard !parsed.isEmpty else { throw CAMError(.invalidModel, "\(what): \(context) (Sequential) has no layers") }

        if parsed[0].className != "InputLayer" {
            let first = parsed[0].config
            let shape = first["batch_input_shape"] ?? first["batch_shape"] ?? config["build_input_shape"]
            guard let shape, shape.array != nil else {
                throw CAMError(.invalidModel, "\(what): \(context) (Sequential) declares no input shape (no InputLayer, batch_input_shape or build_input_shape); SwiftCAM needs it to build the graph")
            }
            var inputName = "\(name)_input"
            while parsed.contains(where: { $0.name == inputName }) { inputName += "_" }
            let input = KerasLayer(className: "InputLayer", name: inputName,
                                   config: .object(["batch_shape": shape, "name": .string(inputName)]), inboundNodes: [], nestedModel: nil)
            parsed.insert(input, at: 0)
        }
        var seen = Set<String>()
        for (i, layer) in parsed.enumerated() {
            guard seen.insert(layer.name).inserted else {
                throw CAMError(.invalidModel, "\(what): \(context) has two layers named '\(layer.name)'")
            }
            if i > 0 {
                if layer.className == "InputLayer" {
                    throw CAMError(.invalidModel, "\(what): \(context) (Sequential) has a second InputLayer '\(layer.name)'")
                }
                parsed[i].inboundNodes = [[KerasTensorRef(layer: parsed[i - 1].name)]]
            }
        }
        return KerasModelConfig(kind: .sequential, className: "Sequential", name: name, layers: parsed,
                                inputs: [KerasTensorRef(layer: parsed[0].name)], outputs: [KerasTensorRef(layer: parsed.last!.name)])
    }
}
