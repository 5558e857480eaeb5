/// Turns a target layer's tensor into the (N, C, h, w) layout CAM methods work on, e.g. a
/// vision transformer's tokens (N, 1 + h·w, C) into (N, C, h, w). Applied to activations
/// and gradients alike.
public protocol ReshapeTransform: AnyObject, Sendable {
    /// Name used on the command line ("vit", "swin").
    var name: String { get }
    /// Reshapes one tensor; `inputSize` is the model input's (height, width).
    func apply(_ tensor: Tensor, inputSize: (height: Int, width: Int), options: String?) throws -> Tensor
}
