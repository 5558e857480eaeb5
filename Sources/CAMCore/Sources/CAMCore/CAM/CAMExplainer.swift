/// What to explain: the method, where, with respect to what, and how to smooth.
public struct CAMRequest: Sendable {
    public var method: any CAMMethod
    /// Tensor names or module paths (see `LayerResolver`).
    public var targetLayers: [String]
    /// Builds each image's target; default: upstream's `ClassifierOutputTarget`.
    public var targetFactory: any TargetFactory
    /// One category per image (`nil`: the factory's default, the top class).
    public var categories: [Int?]
    public var targetOptions: [String: String]
    /// Explicit targets, one per image (used instead of the factory when given).
    public var targets: [any Target]?
    /// A target factory and options per image (or one for the whole batch), used instead of
    /// `targetFactory` and `targetOptions` when given (`--target` repeated per image).
    public var perImageTargets: [TargetSpec]? = nil
    public var reshape: (any ReshapeTransform)?
    public var reshapeOptions: String?
    public var options: CAMOptions
    /// upstream's `eigen_smooth`: first principal component instead of the channel sum.
    public var eigenSmooth: Bool
    /// upstream's `aug_smooth`: the mean over horizontal flip × multiply {0.9, 1, 1.1}.
    public var augSmooth: Bool
    /// Where long methods report progress (nil: silent).
    public var progress: (any ProgressSink)?
    /// The pictures the batch was made from, as the model saw them (after resizing), when the
    /// input came from pictures: methods that work on pixels (SobelCAM) use them.
    public var pictures: [RGBImage]?

    public init(method: any CAMMethod, targetLayers: [String], targetFactory: (any TargetFactory)? = nil,
                categories: [Int?] = [], targetOptions: [String: String] = [:], targets: [any Target]? = nil,
                reshape: (any ReshapeTransform)? = nil, reshapeOptions: String? = nil, options: CAMOptions = CAMOptions(),
                eigenSmooth: Bool = false, augSmooth: Bool = false) {
        self.method = method
        self.targetLayers = targetLayers
        self.targetFactory = targetFactory ?? BuiltInTargets.all[0]
        self.categories = categories
        self.targetOptions = targetOptions
        self.targets = targets
        self.reshape = reshape
        self.reshapeOptions = reshapeOptions
        self.options = options
        self.eigenSmooth = eigenSmooth
        self.augSmooth = augSmooth
    }
}

/// The maps and everything that led to them.
public struct CAMResult: Sendable {
    /// Final maps (N, H, W) in [0, 1], as upstream's `cam(...)` returns them; `nil` for
    /// pixel-attribution methods.
    public let maps: Tensor?
    /// Pixel attributions (N, H, W, C), for methods that produce them (guided backprop).
    public let attribution: Tensor?
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

/// Runs a CAM method on a model: forward pass, targets, backward pass to exactly the tensors
/// the method needs, the method, and upstream's post-processing and smoothing.
public final class CAMExplainer: @unchecked Sendable {
    public let model: Model

    public init(model: Model) { self.model = model }

    public func explain(_ input: Tensor, _ request: CAMRequest) throws -> CAMResult {
        guard input.rank >= 3 else { throw CAMError(.invalidInput, "input must be a batch (N, C, H, W), got \(input.shape)") }
        let n = input.shape[0]
        guard request.categories.isEmpty || request.categories.count == n else {
            throw CAMError(.usage, "\(request.categories.count) categories given for \(n) images (give one per image, in order)")
        }
        if request.augSmooth { return try augmentationSmoothed(input, request) }
        return try explainOnce(input, request)
    }

    func explainOnce(_ input: Tensor, _ request: CAMRequest) throws -> CAMResult {
        let needs = try request.method.requirements(options: request.options)
        return try Runtime.withAccumulation(Runtime.requestedAccumulation == nil ? needs.accumulation : nil) {
            try explainOnce(input, request, needs: needs)
        }
    }

    private func explainOnce(_ input: Tensor, _ request: CAMRequest, needs: CAMRequirements) throws -> CAMResult {
        let n = input.shape[0]
        let method = request.method
        let graph = model.graph
        guard !needs.usesTargetLayers || !request.targetLayers.isEmpty else { throw CAMError(.usage, "no target layer given") }
        let layerIDs = needs.usesTargetLayers ? try request.targetLayers.map { try LayerResolver.resolve($0, in: graph) } : []
        let extraIDs = try method.extraTensors(in: model)
        let inputID = graph.inputs[0]
        var wrt = needs.layerGradients ? layerIDs : []
        wrt += extraIDs
        if needs.inputGradient { wrt.append(inputID) }
        let capture = layerIDs + extraIDs
        let targetsUsed = needs.usesTargets || !wrt.isEmpty || needs.layerHessianVectorProducts

        var outputs: [Tensor]
        var values: [ValueID: Tensor] = [:]
        var gradients: [ValueID: Tensor] = [:]
        var hessianVectorProducts: [ValueID: Tensor] = [:]
        let targets: [any Target]
        if needs.layerHessianVectorProducts {
            // Targets first (they may depend on the outputs), then one graph for all derivatives.
            targets = try makeTargets(request, input: input, outputs: try model.predict(input), batch: n, used: targetsUsed)
            let graphTargets = try targets.map { t -> any GraphTarget in
                guard let g = t as? any GraphTarget else {
                    throw CAMError(.usage, "method '\(method.name)' differentiates the target twice; \(t.description) cannot be (use a classifier, classifier-softmax or classifier-rest target)")
                }
                return g
            }
            let r = try HessianVectorProduct.compute(model: model, input: input, layers: layerIDs, targets: graphTargets)
            outputs = r.outputs
            for (k, v) in layerIDs.enumerated() {
                values[v] = r.values[k]
                gradients[v] = r.gradients[k]
                hessianVectorProducts[v] = r.hessianVectorProducts[k]
            }
        } else if !wrt.isEmpty {
            let program = try model.gradientProgram(outputs: graph.outputs, wrt: wrt, capture: capture, rules: needs.gradientRules)
            let pass = try program.forward([input])
            outputs = pass.outputs
            targets = try makeTargets(request, input: input, outputs: outputs, batch: n, used: targetsUsed)
            let grads = try pass.backward(seeds: try seedGradients(targets, outputs: outputs, batch: n))
            for (v, g) in zip(wrt, grads) { gradients[v] = g }
            for v in capture { values[v] = pass.value(v) }
        } else {
            let fetched = try model.evaluate([input], fetch: graph.outputs + capture)
            outputs = Array(fetched.prefix(graph.outputs.count))
            for (v, t) in zip(capture, fetched.suffix(capture.count)) { values[v] = t }
            targets = try makeTargets(request, input: input, outputs: outputs, batch: n, used: targetsUsed)
        }

        let size = model.imageSize(of: input)
        var layers: [CAMContext.Layer] = []
        for (name, id) in zip(request.targetLayers, layerIDs) {
            var a = values[id]!, g = needs.layerGradients ? gradients[id] : nil, h = hessianVectorProducts[id]
            if let r = request.reshape {
                let rc = ReshapeContext(model: model, layer: id, layerName: name, inputSize: size, options: request.reshapeOptions)
                a = try r.apply(a, context: rc)
                g = try g.map { try r.apply($0, context: rc) }
                h = try h.map { try r.apply($0, context: rc) }
            }
            guard a.rank == 4 else {
                throw CAMError(.usage, "target layer '\(name)' has shape \(a.shape); CAM methods need (N, C, h, w) — pick a convolutional layer or give a reshape transform (e.g. --reshape vit)")
            }
            layers.append(CAMContext.Layer(name: name, id: id, value: values[id]!, activations: a, gradients: g, hessianVectorProduct: h))
        }
        var extra: [ValueID: CAMContext.TensorAndGradient] = [:]
        for v in extraIDs { extra[v] = CAMContext.TensorAndGradient(value: values[v]!, gradient: gradients[v]!) }
        let context = CAMContext(explainer: self, request: request, input: input, layers: layers, outputs: outputs, targets: targets,
                                 inputGradient: needs.inputGradient ? gradients[inputID] : nil, extra: extra)

        switch try method.compute(context) {
        case .layerMaps(let maps):
            guard maps.count == layers.count else {
                throw CAMError(.runtime, "method '\(method.name)' returned \(maps.count) maps for \(layers.count) layers")
            }
            let final = try CAMPostprocessing.aggregate(try maps.map { try CAMPostprocessing.scaleLayer($0.raw, to: size) })
            return CAMResult(maps: zeroingEmptyTargets(final, targets), attribution: nil, layerMaps: maps, layers: layers, outputs: outputs, targets: targets,
                             warnings: zeroMapWarnings(maps.map(\.raw), targets: targets))
        case .combined(let raw, let maps):
            guard raw.shape == [n, size.height, size.width] else {
                throw CAMError(.runtime, "method '\(method.name)' returned a combined map of shape \(raw.shape), expected \([n, size.height, size.width])")
            }
            return CAMResult(maps: zeroingEmptyTargets(CAMPostprocessing.normalize(raw), targets), attribution: nil, layerMaps: maps, layers: layers, outputs: outputs,
                             targets: targets, warnings: zeroMapWarnings([raw], targets: targets))
        case .pixelAttribution(let a):
            return CAMResult(maps: nil, attribution: a, layerMaps: [], layers: layers, outputs: outputs, targets: targets, warnings: [])
        }
    }

    /// upstream's `forward_augmentation_smoothing`: every combination of horizontal flip
    /// (no, yes) and multiplication (0.9, 1, 1.1) of the input; each map flipped back; the mean.
    func augmentationSmoothed(_ input: Tensor, _ request: CAMRequest) throws -> CAMResult {
        var single = request
        single.augSmooth = false
        var sum: Tensor?
        var reference: CAMResult?
        var count = 0
        for flip in [false, true] {
            for factor: Float in [0.9, 1, 1.1] {
                var x = mapFloats(input) { $0 * factor }
                if flip { x = try ImageAugmentation.flipHorizontally(x, layout: model.inputLayout) }
                let result = try explainOnce(x, single)
                guard var maps = result.maps else { throw CAMError(.usage, "aug_smooth needs a method that produces class activation maps") }
                if flip { maps = try ImageAugmentation.flipHorizontally(maps, layout: .nchw) }
                sum = try sum.map { try Binary.evaluate(.add, $0, maps) } ?? maps
                count += 1
                if !flip && factor == 1 { reference = result }
            }
        }
        let mean = mapFloats(sum!) { $0 / Float(count) }
        let r = reference!
        return CAMResult(maps: mean, attribution: nil, layerMaps: r.layerMaps, layers: r.layers, outputs: r.outputs,
                         targets: r.targets, warnings: r.warnings)
    }

    func makeTargets(_ request: CAMRequest, input: Tensor, outputs: [Tensor], batch n: Int, used: Bool = true) throws -> [any Target] {
        if !used && request.targets == nil {
            return [any Target](repeating: NoTarget(method: request.method.name), count: n)
        }
        if let own = try request.method.targets(outputs: outputs, categories: request.categories.isEmpty ? [Int?](repeating: nil, count: n) : request.categories,
                                                options: request.options) {
            guard own.count == n else { throw CAMError(.runtime, "method '\(request.method.name)' made \(own.count) targets for \(n) images") }
            return own
        }
        if let given = request.targets {
            guard given.count == n else { throw CAMError(.usage, "\(given.count) targets given for \(n) images") }
            return given
        }
        let size = model.imageSize(of: input)
        let names = model.graph.outputs.map { model.graph.name(of: $0) }
        func targetInput(_ i: Int, _ options: [String: String]) -> TargetInput {
            TargetInput(category: request.categories.isEmpty ? nil : request.categories[i], options: options,
                        outputs: outputs.map { $0.batchItem(i) }, outputNames: names, imageIndex: i,
                        inputHeight: size.height, inputWidth: size.width)
        }
        if let specs = request.perImageTargets {
            guard specs.count == n || specs.count == 1 else {
                throw CAMError(.usage, "\(specs.count) targets given for \(n) images (give one for the whole batch, or one per image, in order)")
            }
            return try (0..<n).map { i in
                let spec = specs[specs.count == 1 ? 0 : i]
                return try spec.factory.makeTarget(targetInput(i, spec.options))
            }
        }
        return try (0..<n).map { i in try request.targetFactory.makeTarget(targetInput(i, request.targetOptions)) }
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

    /// The maps with every image whose target selects nothing set to zero: such a target
    /// has no gradient, and methods that do not use gradients would otherwise show something.
    func zeroingEmptyTargets(_ maps: Tensor, _ targets: [any Target]) -> Tensor {
        guard targets.contains(where: { $0.emptyReason != nil }) else { return maps }
        let out = maps.copy()
        let plane = out.count / Swift.max(out.shape[0], 1)
        let p = out.mutableFloats
        for (i, t) in targets.enumerated() where t.emptyReason != nil && (i + 1) * plane <= p.count {
            for k in (i * plane)..<((i + 1) * plane) { p[k] = 0 }
        }
        return out
    }

    func zeroMapWarnings(_ raws: [Tensor], targets: [any Target]) -> [String] {
        var out: [String] = []
        for (i, t) in targets.enumerated() {
            if let reason = t.emptyReason {
                out.append("image \(i): the CAM is all zeros — \(t.description) selects nothing: \(reason)")
                continue
            }
            let allNonPositive = raws.allSatisfy { m in
                let plane = m.count / Swift.max(m.shape[0], 1)
                return m.floats[(i * plane)..<((i + 1) * plane)].allSatisfy { $0 <= 0 }
            }
            if allNonPositive {
                out.append("image \(i): the CAM is all zeros — the weighted activations are ≤ 0 everywhere for \(t.description), so after ReLU nothing is left (upstream gives the same); the class may be absent from the image, or try another layer or method")
            }
        }
        return out
    }
}
