/// What to factorize: upstream's `DeepFeatureFactorization(model, target_layer,
/// computation_on_concepts=head)(input_tensor, n_components)`.
public struct DFFRequest: Sendable {
    /// The layer whose activations are factorized (a tensor name or module path, as for CAMs).
    public var targetLayer: String
    /// K, the number of concepts.
    public var components: Int
    /// The part of the model that scores a concept embedding (upstream's
    /// `computation_on_concepts`, e.g. `model.fc`): a module path (`fc`), Keras layer name or
    /// tensor name, whose input the concepts are fed into. `nil`: no concept scores.
    public var head: String?
    /// Alternatively the tensor the concepts are fed into; the model's first output is read.
    public var headInput: String?
    public var reshape: (any ReshapeTransform)?
    public var reshapeOptions: String?
    public var options: FactorizationOptions

    public init(targetLayer: String, components: Int, head: String? = nil, headInput: String? = nil,
                reshape: (any ReshapeTransform)? = nil, reshapeOptions: String? = nil, options: FactorizationOptions = FactorizationOptions()) {
        self.targetLayer = targetLayer
        self.components = components
        self.head = head
        self.headInput = headInput
        self.reshape = reshape
        self.reshapeOptions = reshapeOptions
        self.options = options
    }
}

/// A factorization and what upstream returns with it.
public struct DFFResult: Sendable {
    public let factorization: Factorization
    /// The target layer's activations, (N, C, h, w) after the reshape transform.
    public let activations: Tensor
    /// (N, K, H, W): each concept's map, min-max scaled and resized to the input
    /// (upstream's `batch_explanations`).
    public let maps: Tensor
    /// (K, outputs): the head applied to each concept embedding (upstream's `concept_outputs`);
    /// nil without a head.
    public let conceptScores: Tensor?
}

/// Deep feature factorization (Collins et al., 2018): the concepts a layer's activations are
/// made of, found with no target at all. Runs the model to the target layer, hands the
/// activations to a `FeatureFactorization` plugin (`dff`), scales each concept's map to the input
/// as upstream's `scale_cam_image` does, and scores the concepts through the head.
public final class DeepFeatureFactorization: @unchecked Sendable {
    public let model: Model
    public let factorization: any FeatureFactorization

    public init(model: Model, factorization: any FeatureFactorization) {
        self.model = model
        self.factorization = factorization
    }

    public func run(_ input: Tensor, _ request: DFFRequest) throws -> DFFResult {
        guard input.rank == 4 else { throw CAMError(.invalidInput, "input must be a batch (N, C, H, W), got \(input.shape)") }
        let graph = model.graph
        let layer = try LayerResolver.resolve(request.targetLayer, in: graph)
        let head = try conceptHead(request)
        var a = try model.evaluate([input], fetch: [layer])[0]
        let size = model.imageSize(of: input)
        if let r = request.reshape {
            a = try r.apply(a, context: ReshapeContext(model: model, layer: layer, layerName: request.targetLayer, inputSize: size, options: request.reshapeOptions))
        }
        guard a.rank == 4 else {
            throw CAMError(.usage, "target layer '\(request.targetLayer)' has shape \(a.shape); DFF needs (N, C, h, w) — pick a convolutional layer or give a reshape transform")
        }
        let f = try factorization.factorize(a, components: request.components, options: request.options)
        guard f.explanations.rank == 4, f.explanations.shape[0] == a.shape[0] else {
            throw CAMError(.runtime, "factorization '\(factorization.name)' returned explanations of shape \(f.explanations.shape)")
        }
        let maps = try CAMMath.scaledChannels(f.explanations, to: size)
        let scores = try head.map { try conceptScores(f.concepts, head: $0) }
        return DFFResult(factorization: f, activations: a, maps: maps, conceptScores: scores)
    }

    /// The head applied to concept embeddings: `concepts` (C, K) fed as K rows into the head's
    /// input; returns (K, …) — upstream's `computation_on_concepts(concepts.T)`.
    public func conceptScores(_ concepts: Tensor, head: ConceptHead) throws -> Tensor {
        guard concepts.rank == 2 else { throw CAMError(.runtime, "concepts must be (C, K), got \(concepts.shape)") }
        let rows = transpose(concepts, [1, 0])
        do {
            return try model.evaluate(from: [head.input: rows], fetch: [head.output])[0]
        } catch let e as CAMError {
            throw CAMError(e.kind, "scoring the concepts through '\(model.graph.name(of: head.input))' → '\(model.graph.name(of: head.output))': \(e.message)")
        }
    }

    func conceptHead(_ request: DFFRequest) throws -> ConceptHead? {
        if let t = request.headInput {
            guard request.head == nil else { throw CAMError(.usage, "give the head as a layer or as its input tensor, not both") }
            return try ConceptHead.fromInput(t, in: model.graph)
        }
        return try request.head.map { try ConceptHead.resolve($0, in: model.graph) }
    }
}

/// The sub-graph that scores a concept embedding: from `input` (fed with the K concepts as a
/// batch of rows) to `output`.
public struct ConceptHead: Sendable {
    public let input: ValueID
    public let output: ValueID

    public init(input: ValueID, output: ValueID) {
        self.input = input
        self.output = output
    }

    /// A head named as a layer: a module path as PyTorch exporters name nodes (`fc` → the nodes
    /// under `/fc/`), a Keras layer name, or a tensor (its producing node). Its output is what
    /// `LayerResolver` resolves the name to; its input the one non-constant tensor its nodes
    /// consume from outside.
    public static func resolve(_ name: String, in graph: Graph) throws -> ConceptHead {
        let output = try LayerResolver.resolve(name, in: graph)
        let components = name.split(separator: ".").map(String.init)
        let prefix = "/" + components.indices.map { components[0...$0].joined(separator: ".") }.joined(separator: "/") + "/"
        var members = graph.nodes.indices.filter { graph.nodes[$0].name == name || graph.nodes[$0].name.hasPrefix(prefix) }
        if members.isEmpty, let producer = graph.nodes.indices.first(where: { graph.nodes[$0].outputs.contains(output) }) {
            members = [producer]
        }
        let produced = Set(members.flatMap { graph.nodes[$0].outputs })
        var inputs: [ValueID] = []
        for m in members {
            for case let v? in graph.nodes[m].inputs where !produced.contains(v) && graph.constants[v] == nil && !inputs.contains(v) {
                inputs.append(v)
            }
        }
        guard inputs.count == 1 else {
            let names = inputs.map { graph.name(of: $0) }
            throw CAMError(.usage, "cannot tell the input of the head '\(name)'" + (names.isEmpty ? " (it has none)" : ": it reads \(names.joined(separator: ", "))")
                + "; give the tensor the concepts go into with --head-input")
        }
        return ConceptHead(input: inputs[0], output: output)
    }

    /// A head given by its input tensor; its output is the model's first output.
    public static func fromInput(_ tensor: String, in graph: Graph) throws -> ConceptHead {
        ConceptHead(input: try LayerResolver.resolve(tensor, in: graph), output: graph.outputs[0])
    }
}
