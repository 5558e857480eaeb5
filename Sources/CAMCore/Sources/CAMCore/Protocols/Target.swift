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
