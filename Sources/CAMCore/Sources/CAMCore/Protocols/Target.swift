/// What a CAM explains: a differentiable scalar function of the model's outputs for one image.
///
/// `evaluate` returns the value and its gradient with respect to each output — the seed of the
/// backward pass (upstream sums the targets of a batch, so each image's seed is its own).
public protocol Target: Sendable {
    /// A short description for logs ("ClassifierOutputTarget(281)").
    var description: String { get }
    /// `outputs` are the graph outputs for this image, each with its batch axis removed.
    func evaluate(outputs: [Tensor]) throws -> TargetEvaluation
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
