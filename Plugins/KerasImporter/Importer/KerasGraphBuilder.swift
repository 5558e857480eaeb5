import CAMCore
import KerasFormat

/// A Keras tensor in the graph being built: its graph value and its Keras shape (batch first,
/// `nil` for unknown sizes).
///
/// Layout convention: a value of rank ≥ 3 is stored **channels first** — Keras's
/// (N, d1, …, dk, C) as (N, C, d1, …, dk) — so the runtime's NCHW operators apply directly and
/// CAM methods see (N, C, H, W) activations; rank-1 and rank-2 values are stored as Keras has
/// them. Every named layer output follows this convention; a layer that works in Keras's own
/// axis order (Flatten, Reshape, Permute) transposes inside.
struct KTensor {
    let id: ValueID
    let shape: [Int?]
    var rank: Int { shape.count }
    /// The channel count (last Keras axis), if known.
    var channels: Int? { shape.last ?? nil }
}

/// The Keras shape of the canonical layout's axes.
enum Layout {
    /// `perm` for Transpose from Keras order to channels-first (`[0, r-1, 1, …, r-2]`).
    static func toChannelsFirst(_ rank: Int) -> [Int] {
        rank < 3 ? Array(0..<rank) : [0, rank - 1] + Array(1..<(rank - 1))
    }

    /// `perm` for Transpose from channels-first back to Keras order (`[0, 2, …, r-1, 1]`).
    static func toKeras(_ rank: Int) -> [Int] {
        rank < 3 ? Array(0..<rank) : [0] + Array(2..<rank) + [1]
    }

    /// The stored axis of Keras axis `axis` (negative counts from the end) of a rank-`rank`
    /// value; nil when out of range.
    static func storedAxis(_ axis: Int, rank: Int) -> Int? {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else { return nil }
        if rank < 3 || a == 0 { return a }
        return a == rank - 1 ? 1 : a + 1
    }
}

/// Builds SwiftCAM's `Graph` from a Keras model file: inputs (NHWC, transposed to NCHW right
/// after), every layer call in dependency order, nested models recursively, outputs in Keras's
/// layout. Each layer call's output value is named after the layer (`add_4`), so target layers
/// are given by Keras layer name; a shared layer's later calls are `name:1`, `name:2`, …; layers
/// inside a nested model are `outer/inner`.
final class KerasGraphBuilder {
    let file: KerasModelFile
    let source: String
    var graph = Graph()

    init(file: KerasModelFile) {
        self.file = file
        self.source = file.source
    }

    func build() throws -> Graph {
        let model = file.model
        var inputs: [KTensor] = []
        for (i, ref) in model.inputs.enumerated() {
            guard let layer = model.layer(named: ref.layer), layer.className == "InputLayer" else {
                throw CAMError(.invalidModel, "\(source): model input '\(ref.layer)' is not an InputLayer")
            }
            inputs.append(try graphInput(layer, first: i == 0))
        }
        let weights = WeightSource.topLevel(file.weights)
        let outputs = try buildModel(model, prefix: "", inputs: inputs, weights: weights)
        for (ref, out) in zip(model.outputs, outputs) {
            if out.rank >= 3 {
                // Keras's own layout, as `predict` returns it.
                let id = graph.addFreshValue("\(prefixedName(ref, prefix: ""))/channels_last")
                graph.nodes.append(Node(name: prefixedName(ref, prefix: ""), op: Transpose(perm: Layout.toKeras(out.rank)), inputs: [out.id], outputs: [id]))
                graph.outputs.append(id)
            } else {
                graph.outputs.append(out.id)
            }
        }
        return graph
    }

    /// A graph input for a top-level InputLayer, declared in Keras's layout, and its
    /// channels-first view.
    func graphInput(_ layer: KerasLayer, first: Bool) throws -> KTensor {
        let shape = try inputShape(layer)
        let id = try graph.addValue(layer.name)
        graph.inputs.append(id)
        graph.declare(id, dtype: .float32, shape: [nil] + shape.dropFirst())
        if shape.count >= 3 {
            if first && shape.count == 4 { graph.inputLayout = .nhwc }
            let t = graph.addFreshValue("\(layer.name)/channels_first")
            graph.nodes.append(Node(name: layer.name, op: Transpose(perm: Layout.toChannelsFirst(shape.count)), inputs: [id], outputs: [t]))
            return KTensor(id: t, shape: shape)
        }
        return KTensor(id: id, shape: shape)
    }

    /// An InputLayer's Keras shape, batch included.
    func inputShape(_ layer: KerasLayer) throws -> [Int?] {
        let c = layer.config
        guard let list = (c["batch_shape"] ?? c["batch_input_shape"])?.array else {
            if let shape = c["shape"]?.array ?? c["input_shape"]?.array {
                return [nil] + shape.map { $0.int }
            }
            throw CAMError(.invalidModel, "\(source): input layer \(layer.label) has no batch_shape / batch_input_shape")
        }
        guard list.count >= 2 else {
            throw CAMError(.invalidModel, "\(source): input layer \(layer.label) has shape \(JSONValue.array(list).brief); expected (batch, …) with at least one more axis")
        }
        return list.map { $0.int }
    }

    func prefixedName(_ ref: KerasTensorRef, prefix: String) -> String {
        prefix + ref.layer + (ref.node > 0 ? ":\(ref.node)" : "") + (ref.tensor > 0 ? "#\(ref.tensor)" : "")
    }

    // MARK: Models

    /// Builds one (possibly nested) model on `inputs`; returns its outputs.
    func buildModel(_ model: KerasModelConfig, prefix: String, inputs: [KTensor], weights: WeightSource) throws -> [KTensor] {
        let what = prefix.isEmpty ? "model" : "nested model '\(prefix.dropLast())'"
        guard inputs.count == model.inputs.count else {
            throw CAMError(.invalidModel, "\(source): \(what) takes \(model.inputs.count) inputs but is called with \(inputs.count)")
        }
        var tensors: [KerasTensorRef: KTensor] = [:]
        for (ref, t) in zip(model.inputs, inputs) { tensors[ref] = t }

        // Every call of every layer, run once all its inputs exist (a shared layer's later call
        // may depend on layers listed after it, as in Keras's own reconstruction).
        var work: [(layer: KerasLayer, node: Int)] = []
        for layer in model.layers where layer.className != "InputLayer" {
            for k in layer.inboundNodes.indices { work.append((layer, k)) }
        }
        for layer in model.layers where layer.className == "InputLayer" {
            let ref = KerasTensorRef(layer: layer.name)
            if tensors[ref] == nil {
                throw CAMError(.invalidModel, "\(source): \(what) has input layer \(layer.label) that is not one of its declared inputs")
            }
        }
        var done = [Bool](repeating: false, count: work.count)
        var remaining = work.count
        while remaining > 0 {
            var progressed = false
            for (i, item) in work.enumerated() where !done[i] {
                let refs = item.layer.inboundNodes[item.node]
                guard refs.allSatisfy({ tensors[$0] != nil }) else { continue }
                let ins = refs.map { tensors[$0]! }
                let outs = try call(item.layer, node: item.node, inputs: ins, prefix: prefix, weights: weights)
                for (k, t) in outs.enumerated() { tensors[KerasTensorRef(layer: item.layer.name, node: item.node, tensor: k)] = t }
                done[i] = true
                remaining -= 1
                progressed = true
            }
            if !progressed {
                let i = done.firstIndex(of: false)!
                let item = work[i]
                let missing = item.layer.inboundNodes[item.node].first { tensors[$0] == nil }!
                let known = model.layers.contains { $0.name == missing.layer }
                throw CAMError(.invalidModel, "\(source): layer \(item.layer.label) in \(what) is called on \(missing), "
                    + (known ? "which is never computed (a cycle, or a call index the layer does not have)" : "but there is no layer '\(missing.layer)'"))
            }
        }
        return try model.outputs.map { ref in
            guard let t = tensors[ref] else {
                throw CAMError(.invalidModel, "\(source): \(what) output \(ref) is not produced by any layer call")
            }
            return t
        }
    }

    /// One call of one layer.
    func call(_ layer: KerasLayer, node: Int, inputs: [KTensor], prefix: String, weights: WeightSource) throws -> [KTensor] {
        let name = prefixedName(KerasTensorRef(layer: layer.name, node: node), prefix: prefix)
        if let nested = layer.nestedModel {
            let inner = try weights.nested(layer, model: nested, source: source)
            let outs = try buildModel(nested, prefix: name + "/", inputs: inputs, weights: inner)
            // The nested model's outputs carry its layer name (the first output), so it can be targeted.
            return try outs.enumerated().map { k, t in
                let id = try graph.addValue(k == 0 ? name : "\(name)#\(k)")
                graph.nodes.append(Node(name: name, op: Identity(), inputs: [t.id], outputs: [id]))
                return KTensor(id: id, shape: t.shape)
            }
        }
        let call = LayerCall(builder: self, layer: layer, name: name, inputs: inputs,
                             weights: try weights.plain(layer, source: source), kerasMajorVersion: file.kerasMajorVersion,
                             kerasVersion: file.kerasVersion ?? "")
        do {
            return [try KerasLayers.convert(call)]
        } catch let e as CAMError {
            if e.message.hasPrefix(source) { throw e }
            throw CAMError(e.kind, "\(source): layer \(layer.label)\(node > 0 ? " (call \(node))" : ""): \(e.message)")
        }
    }
}

/// One call of a plain layer being converted: its config, inputs, weights, and the means to
/// emit nodes. The final node must be emitted with `finish`, which names its output after the
/// layer.
struct LayerCall {
    let builder: KerasGraphBuilder
    let layer: KerasLayer
    /// The output value's name (the layer name, `:k` for later calls, prefixed in nested models).
    let name: String
    let inputs: [KTensor]
    let weights: LayerWeights
    let kerasMajorVersion: Int
    let kerasVersion: String

    var config: JSONValue { layer.config }

    /// The single input, checking there is exactly one.
    func input() throws -> KTensor {
        guard inputs.count == 1 else {
            throw CAMError(.invalidModel, "takes one input but is called on \(inputs.count)")
        }
        return inputs[0]
    }

    /// Emits an intermediate node; returns its output.
    func emit(_ op: any Operator, _ ins: [ValueID?], _ hint: String) -> ValueID {
        let id = builder.graph.addFreshValue("\(name)/\(hint)")
        builder.graph.nodes.append(Node(name: name, op: op, inputs: ins, outputs: [id]))
        return id
    }

    /// Emits the layer's final node, whose output carries the layer's name.
    func finish(_ op: any Operator, _ ins: [ValueID?], shape: [Int?]) throws -> KTensor {
        let id = try builder.graph.addValue(name)
        builder.graph.nodes.append(Node(name: name, op: op, inputs: ins, outputs: [id]))
        return KTensor(id: id, shape: shape)
    }

    /// A constant.
    func constant(_ t: Tensor, _ hint: String) -> ValueID {
        builder.graph.addConstant("\(name)/\(hint)", t)
    }

    func int64s(_ v: [Int], _ hint: String) -> ValueID {
        constant(Tensor(shape: [v.count], int64s: v.map(Int64.init)), hint)
    }

    func scalar(_ v: Float, _ hint: String) -> ValueID { constant(Tensor(scalar: v), hint) }

    /// The value in Keras's axis order (a Transpose for rank ≥ 3).
    func kerasOrder(_ t: KTensor) -> ValueID {
        t.rank < 3 ? t.id : emit(Transpose(perm: Layout.toKeras(t.rank)), [t.id], "channels_last")
    }
}
