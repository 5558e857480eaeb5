import CAMCore

/// HiResCAM (Draelos & Carin, 2020): the gradient times the activation, elementwise, summed
/// over channels — faithful to the model where Grad-CAM averages the gradient away.
final class HiResCAM: ElementwiseCAM {
    let name = "hirescam"
    let summary = "HiResCAM: Σ_c gradient ⊙ activation"

    func elementwiseMap(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        try CAMMath.combine(layer.gradients!, layer.activations, *)
    }
}
