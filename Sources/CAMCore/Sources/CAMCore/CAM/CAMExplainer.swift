/// What to explain: the method, where, with respect to what.
public struct CAMRequest: Sendable {
    public var method: any CAMMethod
    /// Tensor names or module paths (see `LayerResolver`).
    public var targetLayers: [String]
    /// Builds each image's target; default: upstream's `ClassifierOutputTarget`.
    public var targetFactory: any TargetFactory
    /// One category per image (`nil`: the factory's default, the top class).
    public var categories: [Int?]
    public var targetOptions: [String: String]
    public var reshape: (any ReshapeTransform)?
    public var reshapeOptions: String?
    public var methodOptions: [String: String]

    public init(method: any CAMMethod, targetLayers: [String], targetFactory: (any TargetFactory)? = nil,
                categories: [Int?] = [], targetOptions: [String: String] = [:],
                reshape: (any ReshapeTransform)? = nil, reshapeOptions: String? = nil, methodOptions: [String: String] = [:]) {
        self.method = method
        self.targetLayers = targetLayers
        self.targetFactory = targetFactory ?? BuiltInTargets.all[0]
        self.categories = categories
        self.targetOptions = targetOptions
        self.reshape = reshape
        self.reshapeOptions = reshapeOptions
        self.methodOptions = methodOptions
    }
}

/// The maps and everything that led to them.
public struct CAMResult: Sendable {
    /// Final maps (N, H, W) in [0, 1], as upstream's `cam(...)` returns them.
    public let maps: Tensor
    /// Per target layer: the raw map and weights the method produced.
    public let layerMaps: [LayerMap]
    /// Per target layer: activations and gradients after the reshape transform.
    public let layers: [CAMContext.Layer]
    /// The model's outputs for the batch.
    public let outputs: [Tensor]
    public let targets: [any Target]
    /// Human-readable notes (e.g. a map that came out all zeros, and why).
    public let warnings: [String]
}

/// Runs a CAM method on a model: forward pass, targets, backward pass to the target layers,
/// the method, and upstream's post-processing.
public final class CAMExplainer: @unchecked Sendable {
    public let model: Model

    public init(model: Model) { self.model = model }

    public func explain(_ input: Tensor, _ request: CAMRequest) throws -> CAMResult {
        guard input.rank >= 3 else { throw CAMError(.invalidInput, "input must be a batch (N, C, H, W), got \(input.shape)") }
        let n = input.shape[0]
        guard request.categories.isEmpty || request.categories.count == n else {
            throw CAMError(.usage, "\(request.categories.count) categories given for \(n) images (give one per image, in order)")
        }
        guard !request.targetLayers.isEmpty else { throw CAMError(.usage, "no target layer given") }
        let graph = model.graph
        let layerIDs = try request.targetLayers.map { try LayerResolver.resolve($0, in: graph) }

        var outputs: [Tensor]
        var activations: [Tensor]
        var gradients: [Tensor?]
        var targets: [any Target] = []
        if request.method.requirements.layerGradients {
            let program = try model.gradientProgram(outputs: graph.outputs, wrt: layerIDs, capture: layerIDs)
            let pass = try program.forward([input])
            outputs = pass.outputs
            targets = try makeTargets(request, outputs: outputs, batch: n)
            let seeds = try seedGradients(targets, outputs: outputs, batch: n)
            gradients = try pass.backward(seeds: seeds)
            activations = layerIDs.map { pass.value($0)! }
        } else {
            let values = try model.evaluate([input], fetch: graph.outputs + layerIDs)
            outputs = Array(values.prefix(graph.outputs.count))
            activations = Array(values.suffix(layerIDs.count))
            gradients = layerIDs.map { _ in nil }
            targets = try makeTargets(request, outputs: outputs, batch: n)
        }

        let size = model.imageSize(of: input)
        var layers: [CAMContext.Layer] = []
        for (k, name) in request.targetLayers.enumerated() {
            var a = activations[k], g = gradients[k]
            if let r = request.reshape {
                let rc = ReshapeContext(model: model, layer: layerIDs[k], layerName: name, inputSize: size, options: request.reshapeOptions)
                a = try r.apply(a, context: rc)
                g = try g.map { try r.apply($0, context: rc) }
            }
            guard a.rank == 4 else {
                throw CAMError(.usage, "target layer '\(name)' has shape \(a.shape); CAM methods need (N, C, h, w) — pick a convolutional layer or give a reshape transform (e.g. --reshape vit)")
            }
            layers.append(CAMContext.Layer(name: name, activations: a, gradients: g))
        }
        let context = CAMContext(model: model, input: input, layers: layers, outputs: outputs, targets: targets, options: request.methodOptions)
        let layerMaps = try request.method.layerMaps(context)
        guard layerMaps.count == layers.count else {
            throw CAMError(.runtime, "method '\(request.method.name)' returned \(layerMaps.count) maps for \(layers.count) layers")
        }
        let maps = try CAMPostprocessing.aggregate(try layerMaps.map { try CAMPostprocessing.scaleLayer($0.raw, to: size) })
        return CAMResult(maps: maps, layerMaps: layerMaps, layers: layers, outputs: outputs, targets: targets,
                         warnings: zeroMapWarnings(layerMaps, targets: targets))
    }

    func makeTargets(_ request: CAMRequest, outputs: [Tensor], batch n: Int) throws -> [any Target] {
        try (0..<n).map { i in
            try request.targetFactory.makeTarget(category: request.categories.isEmpty ? nil : request.categories[i],
                                                 options: request.targetOptions, outputs: outputs.map { $0.batchItem(i) })
        }
    }

    /// Each image's target gradient, stacked into one seed per output.
    func seedGradients(_ targets: [any Target], outputs: [Tensor], batch n: Int) throws -> [Tensor?] {
        var perOutput = [[Tensor?]](repeating: [], count: outputs.count)
        for (i, t) in targets.enumerated() {
            let e = try t.evaluate(outputs: outputs.map { $0.batchItem(i) })
            for k in outputs.indices { perOutput[k].append(k < e.outputGradients.count ? e.outputGradients[k] : nil) }
        }
        return try perOutput.enumerated().map { k, items in
            guard items.contains(where: { $0 != nil }) else { return nil }
            let itemShape = Array(outputs[k].shape.dropFirst())
            return try Tensor.stack(items.map { $0 ?? Tensor(zeros: itemShape) })
        }
    }

    func zeroMapWarnings(_ maps: [LayerMap], targets: [any Target]) -> [String] {
        var out: [String] = []
        for (i, t) in targets.enumerated() {
            let allNonPositive = maps.allSatisfy { m in
                let plane = m.raw.count / Swift.max(m.raw.shape[0], 1)
                return m.raw.floats[(i * plane)..<((i + 1) * plane)].allSatisfy { $0 <= 0 }
            }
            if allNonPositive {
                out.append("image \(i): the CAM is all zeros — the weighted activations are ≤ 0 everywhere for \(t.description), so after ReLU nothing is left (upstream gives the same); the class may be absent from the image, or try another layer or method")
            }
        }
        return out
    }
}
