import CAMCore

/// LayerCAM (Jiang et al., 2021): activations weighted pixel by pixel by the positive
/// gradient — useful in early layers.
final class LayerCAM: ElementwiseCAM {
    let name = "layercam"
    let summary = "LayerCAM: Σ_c max(gradient, 0) ⊙ activation"

    func elementwiseMap(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        try CAMMath.combine(layer.gradients!, layer.activations) { g, a in Swift.max(g, 0) * a }
    }
}
