/// Everything a `CAMMethod` may use for one batch.
public final class CAMContext: @unchecked Sendable {
    /// One target layer's tensors, after the reshape transform: (N, C, h, w).
    public struct Layer: Sendable {
        public let name: String
        public let activations: Tensor
        /// Gradients of the summed targets; present when the method requires them.
        public let gradients: Tensor?
    }

    public let model: Model
    /// The batch fed to the model, laid out as the model's input (NCHW, or NHWC for Keras).
    public let input: Tensor
    public let layers: [Layer]
    /// The model's outputs for the batch.
    public let outputs: [Tensor]
    /// One target per image.
    public let targets: [any Target]
    /// Method-specific options from the command line or manifest (`--method-option k=v`).
    public let options: [String: String]

    public init(model: Model, input: Tensor, layers: [Layer], outputs: [Tensor], targets: [any Target], options: [String: String] = [:]) {
        self.model = model
        self.input = input
        self.layers = layers
        self.outputs = outputs
        self.targets = targets
        self.options = options
    }

    public var batchSize: Int { input.shape[0] }
    /// The input's spatial size.
    public var inputSize: (height: Int, width: Int) { model.imageSize(of: input) }
}
