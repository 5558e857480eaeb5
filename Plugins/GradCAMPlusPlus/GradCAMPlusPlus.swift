import CAMCore

/// Grad-CAM++ (Chattopadhyay et al., 2018): channel weights from positive gradients, weighted
/// by α = g² / (2g² + Σ_ij A · g³) — upstream's `GradCAMPlusPlus.get_cam_weights`.
final class GradCAMPlusPlus: ChannelWeightedCAM {
    let name = "gradcam++"
    let summary = "Grad-CAM++: positive gradients weighted by second-order α"

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        let g = layer.gradients!, a = layer.activations
        let (n, c) = (a.shape[0], a.shape[1])
        let plane = a.count / (n * c)
        let acts = a.toFloats(), grads = g.toFloats()
        // Accumulated in double: α divides by sums of cubes and amplifies rounding.
        var weights = [Float](repeating: 0, count: n * c)
        for i in 0..<(n * c) {
            var sumA = 0.0
            for j in 0..<plane { sumA += Double(acts[i * plane + j]) }
            var w = 0.0
            for j in 0..<plane {
                let gv = Double(grads[i * plane + j])
                guard gv > 0 else { continue }
                let g2 = gv * gv, g3 = g2 * gv
                w += gv * g2 / (2 * g2 + sumA * g3 + 0.000001)
            }
            weights[i] = Float(w)
        }
        return Tensor(shape: [n, c], floats: weights)
    }
}
