/// A graph operator: its forward computation and its vector–Jacobian product, side by side.
///
/// The VJP does not compute numbers: it *emits nodes* into a `GradientBuilder`, so a
/// gradient is itself a graph that runs on the same executor — and can be differentiated
/// again (a Hessian–vector product is the gradient of a gradient).
///
/// To add an operator: write a struct conforming to `Operator`, implement `forward`, and
/// implement `gradient` with operators whose own gradients are known.
public protocol Operator: Sendable {
    /// The operator's type name as users know it (ONNX spelling where one exists), e.g. "Conv".
    var name: String { get }

    /// Computes the outputs. `inputs[i]` is `nil` for omitted optional inputs.
    func forward(_ inputs: [Tensor?]) throws -> [Tensor]

    /// Which inputs a gradient can flow into. Inputs that are shapes, indices or other
    /// integer data are not differentiable; gradients never propagate through them.
    func isDifferentiable(input index: Int) -> Bool

    /// Checks the operator's own attributes (strides, pads, axes…) when a model is loaded,
    /// before anything runs. Default: nothing to check.
    func validate() throws

    /// Emits the VJP: given the node and the gradients of its outputs (`nil` = zero), returns
    /// one gradient value per input (`nil` = zero or not requested).
    func gradient(_ builder: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?]
}

extension Operator {
    public func isDifferentiable(input index: Int) -> Bool { true }

    public func validate() throws {}

    public func gradient(_ builder: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        throw CAMError(.unsupported, "gradients through \(name) are not implemented")
    }
}

/// What a VJP rule sees of the node it differentiates.
public struct GradientNode: Sendable {
    /// The forward node's inputs and outputs (values of the forward graph, usable as inputs
    /// of the emitted gradient nodes).
    public let inputs: [ValueID?]
    public let outputs: [ValueID]
    /// Gradient of each output; `nil` where it is zero.
    public let outputGradients: [ValueID?]
    /// Whether each input's gradient is needed; rules may skip the others.
    public let needsGradient: [Bool]

    public init(inputs: [ValueID?], outputs: [ValueID], outputGradients: [ValueID?], needsGradient: [Bool]) {
        self.inputs = inputs
        self.outputs = outputs
        self.outputGradients = outputGradients
        self.needsGradient = needsGradient
    }

    /// The input at `i`, which must be present.
    public func input(_ i: Int) throws -> ValueID {
        guard i < inputs.count, let v = inputs[i] else {
            throw CAMError(.invalidModel, "missing input \(i)")
        }
        return v
    }

    /// The gradient of the single output (`nil` if zero).
    public var outputGradient: ValueID? { outputGradients.first ?? nil }
}
