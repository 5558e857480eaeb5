import CAMCore

/// Grad-CAM (Selvaraju et al., 2017): each channel is weighted by the spatial mean of the
/// target's gradient there — upstream's `GradCAM.get_cam_weights`.
final class GradCAM: ChannelWeightedCAM {
    let name = "gradcam"
    let summary = "Grad-CAM: channels weighted by the mean gradient"

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        try CAMMath.spatialMean(layer.gradients!)
    }
}
