import CAMCore

/// Grad-CAM (Selvaraju et al., 2017): each channel is weighted by the spatial mean of the
/// target's gradient there — upstream's `GradCAM.get_cam_weights`.
final class GradCAM: ChannelWeightedCAM {
    let name = "gradcam"
    let summary = "Grad-CAM: channels weighted by the mean gradient"

    func channelWeights(activations: Tensor, gradients: Tensor?, context: CAMContext) throws -> Tensor {
        guard let gradients else { throw CAMError(.runtime, "gradcam needs gradients") }
        return try CAMMath.spatialMean(gradients)
    }
}
