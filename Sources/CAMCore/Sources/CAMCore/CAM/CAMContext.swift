/// Everything a `CAMMethod` may use for one batch, and the services it may call: running the
/// model (whole, or only after a layer), scoring targets, and running another method on the
/// same batch.
public final class CAMContext: @unchecked Sendable {
    /// One target layer's tensors, after the reshape transform: (N, C, h, w).
    public struct Layer: Sendable {
        public let name: String
        /// The layer's tensor in the graph (before the reshape transform).
        public let id: ValueID
        /// The layer's value as the graph computes it, before the reshape transform.
        public let value: Tensor
        public let activations: Tensor
        /// Gradients of the summed targets; present when the method requires them.
        public let gradients: Tensor?
        /// H·A, the Hessian of the summed targets applied to the activations; present when
        /// the method requires it.
        public let hessianVectorProduct: Tensor?
    }

    /// A tensor requested with `extraTensors(in:)`: its value and the targets' gradient.
    public struct TensorAndGradient: Sendable {
        public let value: Tensor
        public let gradient: Tensor
    }

    public let model: Model
    /// The batch fed to the model, laid out as the model's input (NCHW, or NHWC for Keras).
    public let input: Tensor
    public let layers: [Layer]
    /// The model's outputs for the batch.
    public let outputs: [Tensor]
    /// One target per image.
    public let targets: [any Target]
    public let options: CAMOptions
    /// upstream's `eigen_smooth`.
    public let eigenSmooth: Bool
    /// ∂(Σ targets)/∂input, when the method requires it.
    public let inputGradient: Tensor?
    /// The tensors the method asked for with `extraTensors(in:)`.
    public let extra: [ValueID: TensorAndGradient]
    let explainer: CAMExplainer
    let request: CAMRequest

    init(explainer: CAMExplainer, request: CAMRequest, input: Tensor, layers: [Layer], outputs: [Tensor], targets: [any Target],
         inputGradient: Tensor?, extra: [ValueID: TensorAndGradient]) {
        self.explainer = explainer
        self.request = request
        self.model = explainer.model
        self.input = input
        self.layers = layers
        self.outputs = outputs
        self.targets = targets
        self.options = request.options
        self.eigenSmooth = request.eigenSmooth
        self.inputGradient = inputGradient
        self.extra = extra
    }

    public var batchSize: Int { input.shape[0] }
    /// The pictures the batch was made from, when it was made from pictures.
    public var pictures: [RGBImage]? { request.pictures }
    /// The input's spatial size.
    public var inputSize: (height: Int, width: Int) { model.imageSize(of: input) }

    /// Runs `method` on the same batch (with these layers and targets, by default the
    /// request's): RefineCAM runs its base method per layer, FinerCAM with its own targets.
    /// `input` replaces the batch (SESS explains patches of the picture).
    public func explain(with method: any CAMMethod, input: Tensor? = nil, layers: [String]? = nil, targets: [any Target]? = nil) throws -> CAMResult {
        var r = request
        r.method = method
        if let layers { r.targetLayers = layers }
        r.targets = targets ?? (input == nil ? self.targets : nil)
        r.augSmooth = false
        if input != nil {
            r.pictures = nil
            r.categories = []
        }
        return try explainer.explain(input ?? self.input, r)
    }

    /// The model's outputs for another batch (e.g. a masked input).
    public func outputs(for batch: Tensor) throws -> [Tensor] {
        try model.predict(batch)
    }

    /// Runs only the graph after `layer` for replacement values of it (see `SuffixRunner`).
    public func suffixRunner(after layer: ValueID) throws -> SuffixRunner {
        try SuffixRunner(model: model, layer: layer, sample: input)
    }

    /// Reports progress of a long method (channels done of total) to the caller's sink.
    public func progress(_ done: Int, of total: Int, _ label: String) {
        request.progress?.update(done: done, total: total, label: label)
    }

    /// Image `index`'s target scored on one image's outputs (each without its batch axis).
    public func score(image index: Int, outputs: [Tensor]) throws -> Float {
        try targets[index].evaluate(outputs: outputs).value
    }
}
