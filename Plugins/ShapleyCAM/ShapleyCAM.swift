import CAMCore

/// ShapleyCAM (Cai et al., 2025): channel weights from the gradient corrected by the
/// second-order term, w_c = mean_ij(g − ½ H·A) — upstream's `ShapleyCAM.get_cam_weights`.
/// The Hessian–vector product is exact (the graph differentiated twice). Pair it with
/// `--target classifier-rest` (logit minus cross-entropy) as its authors do; on a piecewise-
/// linear head with a logit target H·A vanishes and ShapleyCAM equals Grad-CAM.
final class ShapleyCAM: ChannelWeightedCAM {
    let name = "shapleycam"
    let summary = "ShapleyCAM: mean of gradient − ½ Hessian·activation (exact second order; pair with --target classifier-rest)"

    func requirements(options: CAMOptions) throws -> CAMRequirements {
        CAMRequirements(layerGradients: true, layerHessianVectorProducts: true)
    }

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        let corrected = try CAMMath.combine(layer.gradients!, layer.hessianVectorProduct!) { g, h in g - 0.5 * h }
        return try CAMMath.spatialMean(corrected)
    }
}
