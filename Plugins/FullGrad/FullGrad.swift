import CAMCore

/// FullGrad (Srinivas & Fleuret, 2019): |input × input-gradient| plus, for every convolution
/// with a bias and every BatchNormalization, |bias × gradient at its output|; each channel
/// min-max scaled and resized to the input, everything summed — upstream's `FullGrad`.
///
/// All gradients come from one forward and one backward pass. Exporters fold BatchNorm into
/// the preceding convolution; the folded convolution's bias is then the BatchNorm's effective
/// bias, so both export forms give upstream's bias terms.
final class FullGrad: CAMMethod {
    let name = "fullgrad"
    let summary = "FullGrad: input-gradient and bias-gradient terms of every Conv/BatchNorm, summed (no target layer)"

    func requirements(options: CAMOptions) throws -> CAMRequirements {
        CAMRequirements(layerGradients: false, inputGradient: true, usesTargetLayers: false)
    }

    /// The outputs of the bias layers, in graph order.
    func extraTensors(in model: Model) throws -> [ValueID] {
        try biasLayers(model).map(\.output)
    }

    /// Each bias layer's output and its per-channel bias.
    func biasLayers(_ model: Model) throws -> [(output: ValueID, bias: [Float])] {
        let g = model.graph
        var layers: [(ValueID, [Float])] = []
        for node in g.nodes {
            if node.op is Convolution, node.inputs.count > 2, let b = node.inputs[2], let bias = g.constants[b] {
                layers.append((node.outputs[0], bias.toFloats()))
            } else if let bn = node.op as? BatchNormalization, node.inputs.count == 5,
                      let scale = node.inputs[1].flatMap({ g.constants[$0] }), let beta = node.inputs[2].flatMap({ g.constants[$0] }),
                      let mean = node.inputs[3].flatMap({ g.constants[$0] }), let variance = node.inputs[4].flatMap({ g.constants[$0] }) {
                let (s, b, m, v) = (scale.toFloats(), beta.toFloats(), mean.toFloats(), variance.toFloats())
                layers.append((node.outputs[0], (0..<s.count).map { b[$0] - m[$0] * s[$0] / (v[$0] + bn.epsilon).squareRoot() }))
            }
        }
        guard !layers.isEmpty else {
            throw CAMError(.usage, "fullgrad needs convolutions with biases or BatchNormalization layers; this model has none")
        }
        return layers
    }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        let size = context.inputSize
        let nchw = { (t: Tensor) throws -> Tensor in context.model.inputLayout == .nhwc ? try CAMMath.channelsFirst(t) : t }
        let x = try nchw(context.input), gx = try nchw(context.inputGradient!)
        // |x · ∂y/∂x| and every layer's |bias · ∂y/∂output|, each channel scaled to [0, 1] and
        // resized to the input.
        let inputTerm = try CAMMath.combine(gx, x) { a, b in Swift.abs(a * b) }
        var biasTerms: [Tensor] = []
        for layer in try biasLayers(context.model) {
            guard let t = context.extra[layer.output] else { continue }
            let grad = t.gradient
            guard grad.rank == 4, grad.shape[1] == layer.bias.count else { continue }
            let bias = Tensor(shape: [1, layer.bias.count, 1, 1], floats: layer.bias)
            biasTerms.append(CAMMath.map(try CAMMath.multiplyBroadcast(grad, bias)) { Swift.abs($0) })
        }
        let raw: Tensor
        if context.eigenSmooth {
            // upstream: every term's channel sum at full size, then their principal component at
            // 1/8 of the size, scaled back up.
            var terms = [try CAMMath.scaledChannels(inputTerm, to: size)]
            for t in biasTerms {
                let summed = try CAMMath.scaledChannelSum(t, to: size)
                terms.append(summed.reshaped(to: [summed.shape[0], 1, size.height, size.width]))
            }
            let small = try CAMMath.scaledChannels(try CAMMath.concatenateChannels(terms), to: (size.height / 8, size.width / 8))
            let projection = try EigenProjection.firstComponent(small)
            let up = try CAMMath.scaledChannels(projection.reshaped(to: [projection.shape[0], 1] + projection.shape.dropFirst()), to: size)
            raw = up.reshaped(to: [up.shape[0], size.height, size.width])
        } else {
            var sum = try CAMMath.scaledChannelSum(inputTerm, to: size)
            for t in biasTerms { sum = try CAMMath.combine(sum, try CAMMath.scaledChannelSum(t, to: size), +) }
            raw = sum
        }
        return .combined(raw, layerMaps: [LayerMap(raw: raw)])
    }
}
