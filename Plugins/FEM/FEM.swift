import CAMCore

/// FEM, the Feature Explanation Method (Fuad et al., 2020): a channel's weight is the share of
/// its activations above mean + k·std (k = 2; `--method-option k=…`). No gradients.
final class FEM: ChannelWeightedCAM {
    let name = "fem"
    let summary = "FEM: channels weighted by the share of activations above mean + k·std (option k, default 2)"

    func requirements(options: CAMOptions) throws -> CAMRequirements {
        var r = CAMRequirements(layerGradients: false)
        r.usesTargets = false  // the map ignores the target: none is built, so any model (a detector) works
        return r
    }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        // upstream's FEM ignores eigen_smooth: always the weighted sum.
        .layerMaps(try context.layers.map { layer in
            let w = try channelWeights(layer, context: context)
            return LayerMap(raw: try CAMMath.weightedSum(layer.activations, weights: w), weights: w)
        })
    }

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        let k = Double(try context.options.float("k", default: 2))
        let a = layer.activations
        let (n, c) = (a.shape[0], a.shape[1])
        let plane = a.count / (n * c)
        let values = a.toFloats()
        let weights = (0..<(n * c)).map { i -> Float in
            let x = values[(i * plane)..<((i + 1) * plane)]
            let mean = x.reduce(0.0) { $0 + Double($1) } / Double(plane)
            let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(plane)
            let threshold = Float(mean + k * variance.squareRoot())
            return Float(x.filter { $0 > threshold }.count) / Float(plane)
        }
        return Tensor(shape: [n, c], floats: weights)
    }
}
