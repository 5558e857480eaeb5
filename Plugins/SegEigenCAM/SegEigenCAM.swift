import CAMCore

/// Seg-Eigen-CAM (Chung & Ying, 2025): the first principal component of |gradient| ⊙
/// activation, with the sign corrected so the salient region is positive (the map is negated
/// when its minimum is larger in magnitude than its maximum).
final class SegEigenCAM: CAMMethod {
    let name = "segeigencam"
    let summary = "Seg-Eigen-CAM: sign-corrected principal component of |gradient| ⊙ activation"

    func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: true) }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        .layerMaps(try context.layers.map { layer in
            let weighted = try CAMMath.combine(layer.gradients!, layer.activations) { g, a in Swift.abs(g) * a }
            return LayerMap(raw: try EigenProjection.firstComponentSignCorrected(weighted))
        })
    }
}
