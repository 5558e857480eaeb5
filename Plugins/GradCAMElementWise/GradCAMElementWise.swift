import CAMCore

/// Grad-CAM element-wise: ReLU of gradient ⊙ activation before the channel sum.
final class GradCAMElementWise: ElementwiseCAM {
    let name = "gradcamelementwise"
    let summary = "Grad-CAM element-wise: Σ_c max(gradient ⊙ activation, 0)"

    func elementwiseMap(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        try CAMMath.combine(layer.gradients!, layer.activations) { g, a in Swift.max(g * a, 0) }
    }
}
