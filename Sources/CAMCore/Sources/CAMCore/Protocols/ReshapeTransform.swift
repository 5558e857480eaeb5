/// Turns a target layer's tensor into the (N, C, h, w) layout CAM methods work on, e.g. a
/// vision transformer's tokens (N, 1 + h·w, C) into (N, C, h, w). Applied to activations
/// and gradients alike.
///
/// Implement one of the two `apply` methods (each defaults to the other, as `Hashable`'s
/// `hashValue` and `hash(into:)` do). The core calls `apply(_:context:)`, which also carries
/// the model and the target layer, so a transform can read what it needs from the graph (the
/// `vit` transform finds the patch size there); a transform that only needs the input size
/// and its options can keep implementing `apply(_:inputSize:options:)`.
public protocol ReshapeTransform: AnyObject, Sendable {
    /// Name used on the command line ("vit", "swin").
    var name: String { get }
    /// Reshapes one tensor; `inputSize` is the model input's (height, width).
    func apply(_ tensor: Tensor, inputSize: (height: Int, width: Int), options: String?) throws -> Tensor
    /// Reshapes one tensor of the target layer described by `context`.
    func apply(_ tensor: Tensor, context: ReshapeContext) throws -> Tensor
}
