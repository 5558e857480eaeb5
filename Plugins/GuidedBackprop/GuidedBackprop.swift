import CAMCore

/// Guided backpropagation (Springenberg et al., 2015): the gradient of the target with respect
/// to the input, where every `Relu` passes gradient only where its input and the incoming
/// gradient are both positive. The result is a pixel attribution, (N, H, W, C), for the whole
/// batch (upstream returns image 0 only). Accumulated in double unless the user asks otherwise:
/// one forward and one backward pass, where float32 rounding would flip ReLU6/Clip kinks.
final class GuidedBackprop: CAMMethod {
    let name = "guidedbackprop"
    let summary = "Guided backpropagation: input gradient through guided ReLUs, (N, H, W, C)"

    func requirements(options: CAMOptions) throws -> CAMRequirements {
        var needs = CAMRequirements(layerGradients: false, inputGradient: true, gradientRules: .guidedReLU, usesTargetLayers: false)
        needs.accumulation = .double
        return needs
    }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        let g = context.inputGradient!
        return .pixelAttribution(context.model.inputLayout == .nhwc ? g : try CAMMath.channelsLast(g))
    }
}
