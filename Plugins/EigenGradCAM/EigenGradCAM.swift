import CAMCore

/// EigenGradCAM: the first principal component of gradient ⊙ activation — class-discriminative
/// like Grad-CAM, cleaner like EigenCAM.
final class EigenGradCAM: CAMMethod {
    let name = "eigengradcam"
    let summary = "EigenGradCAM: first principal component of gradient ⊙ activation"

    func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: true) }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        .layerMaps(try context.layers.map { layer in
            LayerMap(raw: try EigenProjection.firstComponent(try CAMMath.combine(layer.gradients!, layer.activations, *)))
        })
    }
}
