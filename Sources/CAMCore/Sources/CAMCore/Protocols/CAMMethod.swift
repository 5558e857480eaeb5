/// A class-activation-map method (GradCAM, ScoreCAM, …). Each lives in its own plugin.
///
/// The core runs the model, the targets and the backward pass, applies the reshape transform,
/// and hands the method a `CAMContext`; the method returns one raw map per target layer,
/// (N, h, w) at the layer's resolution. The core then post-processes exactly as
/// pytorch-grad-cam does (ReLU, min-max, resize to the input, mean over layers, min-max).
///
/// Methods that weight the channels of the activations should conform to
/// `ChannelWeightedCAM` instead and only supply the weights.
public protocol CAMMethod: AnyObject, Sendable {
    /// Name on the command line (upstream's class name in lower case: "gradcam", "gradcam++").
    var name: String { get }
    /// One line for `swiftcam plugins`.
    var summary: String { get }
    /// What the core must compute before calling the method.
    var requirements: CAMRequirements { get }
    /// The raw map of each target layer.
    func layerMaps(_ context: CAMContext) throws -> [LayerMap]
}

/// What a method needs from the forward/backward pass.
public struct CAMRequirements: Sendable {
    /// Gradients of the targets at every target layer.
    public var layerGradients: Bool
    public init(layerGradients: Bool) { self.layerGradients = layerGradients }
}

/// A method's result for one target layer.
public struct LayerMap: Sendable {
    /// (N, h, w) before ReLU, normalisation and resizing (upstream's `get_cam_image`).
    public var raw: Tensor
    /// (N, C) channel weights, for methods that have them.
    public var weights: Tensor?
    public init(raw: Tensor, weights: Tensor? = nil) {
        self.raw = raw
        self.weights = weights
    }
}

/// A method defined by per-channel weights: `map = Σ_c w[n, c] · A[n, c]`.
/// With `eigen_smooth`, the first principal component of the weighted activations replaces
/// the sum, as upstream does.
public protocol ChannelWeightedCAM: CAMMethod {
    /// (N, C) weights for one layer from its activations (and gradients, when required).
    func channelWeights(activations: Tensor, gradients: Tensor?, context: CAMContext) throws -> Tensor
}

extension ChannelWeightedCAM {
    public var requirements: CAMRequirements { CAMRequirements(layerGradients: true) }

    public func layerMaps(_ context: CAMContext) throws -> [LayerMap] {
        try context.layers.map { layer in
            let w = try channelWeights(activations: layer.activations, gradients: layer.gradients, context: context)
            return LayerMap(raw: try CAMMath.weightedSum(layer.activations, weights: w), weights: w)
        }
    }
}
