/// What a CAM explains: a differentiable scalar function of the model's outputs for one image.
///
/// `evaluate` returns the value and its gradient with respect to each output — the seed of the
/// backward pass (upstream sums the targets of a batch, so each image's seed is its own).
public protocol Target: Sendable {
    /// A short description for logs ("ClassifierOutputTarget(281)").
    var description: String { get }
    /// `outputs` are the graph outputs for this image, each with its batch axis removed.
    func evaluate(outputs: [Tensor]) throws -> TargetEvaluation
    /// Why the target selects nothing in its image (a segmentation mask with no pixel, boxes
    /// that match no detection), or nil. Such a target scores 0 with zero gradients; the
    /// explainer returns an all-zero map for its image and reports this as a warning.
    var emptyReason: String? { get }
}

extension Target {
    public var emptyReason: String? { nil }
}

/// One detected (or reference) box, in the model input's pixel coordinates.
public struct DetectionBox: Sendable, Equatable {
    /// x1, y1, x2, y2.
    public var box: [Float]
    public var classIndex: Int
    public var score: Float
    /// The class name, when known.
    public var label: String?

    public init(box: [Float], classIndex: Int, score: Float, label: String? = nil) {
        self.box = box
        self.classIndex = classIndex
        self.score = score
        self.label = label
    }
}

/// A target about boxes (detection targets): the boxes it explains, which `swiftcam explain`
/// draws on the overlay.
public protocol BoxTarget: Target {
    /// The boxes the target's score is made of (the matched detections).
    var explainedBoxes: [DetectionBox] { get }
    /// Every detection the model made in the image (after score threshold and NMS).
    var detections: [DetectionBox] { get }
}

/// The placeholder target of methods that use none (EigenCAM): scores 0, no gradient.
public struct NoTarget: Target {
    public let method: String
    public init(method: String) { self.method = method }
    public var description: String { "no target (\(method) uses none)" }
    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        TargetEvaluation(value: 0, outputGradients: outputs.map { _ in nil })
    }
}

/// A target factory and its options, for one image or a whole batch.
public struct TargetSpec: Sendable {
    public var factory: any TargetFactory
    public var options: [String: String]
    public init(factory: any TargetFactory, options: [String: String] = [:]) {
        self.factory = factory
        self.options = options
    }
}

/// A target's value and the gradient of that value with respect to each graph output
/// (`nil` where it does not depend on that output).
public struct TargetEvaluation: Sendable {
    public let value: Float
    public let outputGradients: [Tensor?]

    public init(value: Float, outputGradients: [Tensor?]) {
        self.value = value
        self.outputGradients = outputGradients
    }
}

/// Builds targets from what the user asked for. Registered by name ("classifier",
/// "classifier-softmax", and plugin targets such as "segmentation" and "boxes").
public protocol TargetFactory: AnyObject, Sendable {
    var name: String { get }
    /// One target for image `index` of the batch; `category` is the user's `--category` for it
    /// (`nil`: the factory decides, e.g. the top-scoring class).
    func makeTarget(category: Int?, options: [String: String], outputs: [Tensor]) throws -> any Target
    /// The same with everything the explainer knows about the image: the names of the graph
    /// outputs, the image's index in the batch and the input size. The default calls
    /// `makeTarget(category:options:outputs:)`; detection targets need the rest.
    func makeTarget(_ input: TargetInput) throws -> any Target
}

extension TargetFactory {
    public func makeTarget(_ input: TargetInput) throws -> any Target {
        try makeTarget(category: input.category, options: input.options, outputs: input.outputs)
    }
}

/// What a target factory is given for one image.
public struct TargetInput: Sendable {
    /// The user's `--category` for this image, if any.
    public var category: Int?
    public var options: [String: String]
    /// The graph outputs for this image, each with its batch axis removed.
    public var outputs: [Tensor]
    /// The graph outputs' names, in the same order.
    public var outputNames: [String]
    /// The image's position in the batch.
    public var imageIndex: Int
    /// The model input's spatial size.
    public var inputHeight: Int
    public var inputWidth: Int

    public init(category: Int?, options: [String: String], outputs: [Tensor], outputNames: [String], imageIndex: Int,
                inputHeight: Int, inputWidth: Int) {
        self.category = category
        self.options = options
        self.outputs = outputs
        self.outputNames = outputNames
        self.imageIndex = imageIndex
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
    }
}

/// A target written as a small graph over the image's outputs. Its value and gradient come
/// from the runtime's executor and autodiff, so a target only describes its score — and
/// methods that differentiate twice (ShapleyCAM) can differentiate through it.
public protocol GraphTarget: Target {
    /// Appends the score to `builder`'s graph; `outputs` are the image's outputs (without the
    /// batch axis). Returns a value of one element.
    func score(_ builder: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID
}

extension GraphTarget {
    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        try evaluateScoreGraph(outputs: outputs)
    }

    /// The default `evaluate`: builds the score's graph, runs it and its gradient. A target
    /// that overrides `evaluate` (say, to skip an empty selection) calls this for the rest.
    public func evaluateScoreGraph(outputs: [Tensor]) throws -> TargetEvaluation {
        var graph = Graph()
        let ids = try outputs.indices.map { try graph.addValue("output\($0)") }
        graph.inputs = ids
        var builder = GradientBuilder(graph: graph)
        let s = try score(&builder, outputs: ids)
        graph = builder.graph
        graph.outputs = [s]
        let gradients = try Autodiff.differentiate(graph, outputs: [s], wrt: ids)
        var feeds = Dictionary(uniqueKeysWithValues: zip(ids, outputs))
        let executor = try Executor(gradients.graph)
        let value = try executor.evaluate(feeds, fetch: [s])[0]
        guard value.count == 1 else { throw CAMError(.runtime, "target \(description) scored \(value.shape), expected one value") }
        feeds[gradients.seeds[0]] = Tensor(repeating: 1, shape: value.shape)
        let present = gradients.gradients.compactMap { $0 }
        let computed = try executor.evaluate(feeds, fetch: present)
        var byID = Dictionary(uniqueKeysWithValues: zip(present, computed))
        let grads: [Tensor?] = gradients.gradients.map { $0.flatMap { byID.removeValue(forKey: $0) } }
        return TargetEvaluation(value: value.toFloats()[0], outputGradients: grads)
    }
}
