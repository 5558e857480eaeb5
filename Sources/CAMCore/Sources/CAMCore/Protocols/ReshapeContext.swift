/// What a `ReshapeTransform` may know about the tensor it reshapes, besides its shape: the
/// model and the target layer it comes from, the model input's spatial size, and the options
/// the user gave after the transform's name (`--reshape vit:14x14` → `"14x14"`).
public struct ReshapeContext: Sendable {
    /// The model (nil when a transform is applied to tensors that come from no model).
    public let model: Model?
    /// The target layer's value in `model.graph`, if known.
    public let layer: ValueID?
    /// The target layer as the user named it (tensor name or module path), for messages.
    public let layerName: String
    /// The model input's (height, width).
    public let inputSize: (height: Int, width: Int)
    /// The options after `NAME:` on the command line, or nil.
    public let options: String?

    public init(model: Model? = nil, layer: ValueID? = nil, layerName: String = "", inputSize: (height: Int, width: Int), options: String? = nil) {
        self.model = model
        self.layer = layer
        self.layerName = layerName
        self.inputSize = inputSize
        self.options = options
    }
}

extension ReshapeTransform {
    public func apply(_ tensor: Tensor, context: ReshapeContext) throws -> Tensor {
        try apply(tensor, inputSize: context.inputSize, options: context.options)
    }

    public func apply(_ tensor: Tensor, inputSize: (height: Int, width: Int), options: String?) throws -> Tensor {
        try apply(tensor, context: ReshapeContext(inputSize: inputSize, options: options))
    }
}
