/// A class-activation-map method (GradCAM, ScoreCAM, …). Each lives in its own plugin and
/// holds only its own math; the core does everything shared.
///
/// The core runs the model, builds the targets, runs the backward pass for what the method
/// declares in `requirements`, applies the reshape transform, and calls `compute` with a
/// `CAMContext`. What the method returns is post-processed exactly as pytorch-grad-cam does.
///
/// Most methods conform to one of the refinements instead of implementing `compute`:
/// - `ChannelWeightedCAM`: supply per-channel weights (GradCAM, GradCAM++, XGradCAM, …);
/// - `ElementwiseCAM`: supply an elementwise (N, C, h, w) map that is summed over channels
///   (HiResCAM, LayerCAM, …).
/// Both get `eigen_smooth` (first principal component instead of the channel sum) for free.
public protocol CAMMethod: AnyObject, Sendable {
    /// Name on the command line: upstream's class name in lower case ("gradcam", "gradcam++").
    var name: String { get }
    /// One line for `swiftcam plugins`.
    var summary: String { get }
    /// What the core must compute before calling the method (it may depend on the method's
    /// options, e.g. a meta-method's base method).
    func requirements(options: CAMOptions) throws -> CAMRequirements
    /// Extra tensors whose values and target gradients the method needs (FullGrad's bias
    /// layers); computed in the same forward and backward pass. Default: none.
    func extraTensors(in model: Model) throws -> [ValueID]
    /// The method's own targets (FinerCAM's weighted comparison), given the model's outputs and
    /// the categories asked for. Default: `nil`, the request's targets.
    func targets(outputs: [Tensor], categories: [Int?], options: CAMOptions) throws -> [any Target]?
    /// The method's result for the batch.
    func compute(_ context: CAMContext) throws -> CAMOutput
}

extension CAMMethod {
    public func extraTensors(in model: Model) throws -> [ValueID] { [] }
    public func targets(outputs: [Tensor], categories: [Int?], options: CAMOptions) throws -> [any Target]? { nil }
}

/// What a method needs from the forward/backward pass.
public struct CAMRequirements: Sendable {
    /// Gradients of the targets at every target layer.
    public var layerGradients: Bool
    /// The gradient of the targets with respect to the model input.
    public var inputGradient: Bool
    /// How gradients flow back (guided backpropagation changes ReLU's rule).
    public var gradientRules: GradientRules
    /// Whether the method uses target layers at all (FullGrad and guided backprop do not).
    public var usesTargetLayers: Bool
    /// Hessian–vector products H·A at every target layer (ShapleyCAM); the targets must then
    /// be `GraphTarget`s, so that they can be differentiated twice.
    public var layerHessianVectorProducts: Bool
    /// Whether the method's maps depend on the targets at all. Methods that ignore them
    /// (EigenCAM, KPCA-CAM) set this to false: no targets are built, so such a method runs on
    /// any model — a detector or a segmenter — without a target.
    public var usesTargets: Bool = true
    /// The accumulation the method's forward and backward passes need unless the user asked
    /// for one (`Runtime.requestedAccumulation`); `nil`: single. Guided backprop asks for
    /// double: its map is the input gradient through every ReLU/Clip kink, and a pre-activation
    /// that float32 rounding puts on the other side of a kink switches a whole patch of it.
    public var accumulation: Runtime.Accumulation? = nil

    public init(layerGradients: Bool, inputGradient: Bool = false, gradientRules: GradientRules = .standard, usesTargetLayers: Bool = true,
                layerHessianVectorProducts: Bool = false) {
        self.layerGradients = layerGradients
        self.inputGradient = inputGradient
        self.gradientRules = gradientRules
        self.usesTargetLayers = usesTargetLayers
        self.layerHessianVectorProducts = layerHessianVectorProducts
    }
}

/// What a method computed.
public enum CAMOutput: Sendable {
    /// One raw map per target layer at the layer's resolution (upstream's `get_cam_image`); the
    /// core applies ReLU, min-max and the resize per layer, then the mean and min-max over layers.
    case layerMaps([LayerMap])
    /// One map per image at the input's resolution, already combined over layers (FullGrad,
    /// RefineCAM); the core only min-max normalises it. `layerMaps` are for inspection.
    case combined(Tensor, layerMaps: [LayerMap])
    /// Per-pixel attributions, (N, H, W, C) (guided backpropagation): no class activation map.
    case pixelAttribution(Tensor)
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

/// A method defined by per-channel weights: `map = Σ_c w[n, c] · A[n, c]` (or, with
/// eigen_smooth, the first principal component of `w · A`).
public protocol ChannelWeightedCAM: CAMMethod {
    /// (N, C) weights for one layer from its activations and (when required) gradients.
    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor
}

extension ChannelWeightedCAM {
    public func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: true) }

    public func compute(_ context: CAMContext) throws -> CAMOutput {
        .layerMaps(try context.layers.map { layer in
            let w = try channelWeights(layer, context: context)
            let raw = context.eigenSmooth
                ? try EigenProjection.firstComponent(try CAMMath.scaleChannels(layer.activations, by: w))
                : try CAMMath.weightedSum(layer.activations, weights: w)
            return LayerMap(raw: raw, weights: w)
        })
    }
}

/// A method defined by an elementwise map `E[n, c, i, j]` summed over channels (or, with
/// eigen_smooth, projected on its first principal component).
public protocol ElementwiseCAM: CAMMethod {
    /// (N, C, h, w) for one layer.
    func elementwiseMap(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor
}

extension ElementwiseCAM {
    public func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: true) }

    public func compute(_ context: CAMContext) throws -> CAMOutput {
        .layerMaps(try context.layers.map { layer in
            let e = try elementwiseMap(layer, context: context)
            return LayerMap(raw: context.eigenSmooth ? try EigenProjection.firstComponent(e) : try CAMMath.channelSum(e))
        })
    }
}
