import CAMCore

/// XGradCAM (Fu et al., 2020): gradients weighted by the normalised activations,
/// w_c = Σ_ij g · A / (Σ_ij A + ε).
final class XGradCAM: ChannelWeightedCAM {
    let name = "xgradcam"
    let summary = "XGradCAM: gradients scaled by normalised activations"

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        let sumA = try CAMMath.spatialSum(layer.activations)
        let sumGA = try CAMMath.spatialSum(try CAMMath.combine(layer.gradients!, layer.activations, *))
        return try CAMMath.combine(sumGA, sumA) { ga, a in ga / (a + 1e-7) }
    }
}
