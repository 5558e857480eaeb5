import CAMCore

/// Score-CAM (Wang et al., 2020): each channel, upsampled to the input and min-max scaled,
/// masks the input; the target's score on the masked input, softmaxed over channels, is the
/// channel's weight — upstream's `ScoreCAM`, run in batches (`batch-size`, default 16).
///
/// A channel whose scaled mask is zero everywhere (a dead ReLU channel) masks the input to
/// zeros: the model is run on a zero input once and that score is reused — exact, and on
/// EfficientNet-Lite0's head it saves about 60 % of the forward passes.
///
/// `top-channels=N` scores only the N channels whose maps vary most (Faster-Score-CAM, as in
/// tf-keras-vis); the others get weight 0. A deviation from upstream, off by default.
final class ScoreCAM: ChannelWeightedCAM {
    let name = "scorecam"
    let summary = "Score-CAM: channels weighted by the target's score on channel-masked inputs (options batch-size=16, top-channels)"

    func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: false) }

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        let batchSize = try context.options.int("batch-size", default: 16)
        guard batchSize > 0 else { throw CAMError(.usage, "option batch-size: must be positive") }
        let a = layer.activations
        let (n, c) = (a.shape[0], a.shape[1])
        let topChannels = try context.options.int("top-channels", default: c)
        guard topChannels > 0 else { throw CAMError(.usage, "option top-channels: must be positive") }
        let size = context.inputSize
        let plane = size.height * size.width
        let (h, w) = (a.shape[2], a.shape[3])
        /// One channel's map upsampled to the input — computed per batch, so memory stays
        /// bounded by the batch size whatever the channel count.
        func mask(_ i: Int, _ ch: Int) throws -> [Float] {
            let one = a.batchItem(i).batchItem(ch).reshaped(to: [1, 1, h, w])
            return try CAMMath.upsampleAlignCorners(one, to: size).toFloats()
        }
        let nchwInput = context.model.inputLayout == .nhwc ? try CAMMath.channelsFirst(context.input) : context.input
        let channels = nchwInput.shape[1]
        var weights = [Float](repeating: 0, count: n * c)
        var zeroInputOutputs: [Tensor]?
        for i in 0..<n {
            let image = nchwInput.batchItem(i).toFloats()
            let chosen = topChannels >= c ? Array(0..<c) : try Self.mostVarying(a.batchItem(i), count: topChannels)
            // Channels whose mask is all zeros share one score: the model's on a zero input.
            let isZero = try chosen.map { ch -> Bool in
                let m = try mask(i, ch)
                let lo = m.min()!
                return m.allSatisfy { ($0 - lo) == 0 }
            }
            var zeroScore: Float?
            if isZero.contains(true) {
                if zeroInputOutputs == nil {
                    var zero = Tensor(zeros: [1, channels, size.height, size.width])
                    if context.model.inputLayout == .nhwc { zero = try CAMMath.channelsLast(zero) }
                    zeroInputOutputs = try context.outputs(for: zero)
                }
                zeroScore = try context.score(image: i, outputs: zeroInputOutputs!.map { $0.batchItem(0) })
            }
            let live = chosen.indices.filter { !isZero[$0] }.map { chosen[$0] }
            var liveScores: [Float] = []
            for start in stride(from: 0, to: live.count, by: batchSize) {
                let batch = Array(live[start..<Swift.min(start + batchSize, live.count)])
                var masked = [Float](repeating: 0, count: batch.count * channels * plane)
                for (k, ch) in batch.enumerated() {
                    // (u − min) / (max − min + 1e-8), as upstream scales each upsampled channel.
                    let m = try mask(i, ch)
                    let lo = m.min()!, hi = m.max()!
                    for q in 0..<channels {
                        for p in 0..<plane {
                            masked[(k * channels + q) * plane + p] = image[q * plane + p] * ((m[p] - lo) / (hi - lo + 1e-8))
                        }
                    }
                }
                var x = Tensor(shape: [batch.count, channels, size.height, size.width], floats: masked)
                if context.model.inputLayout == .nhwc { x = try CAMMath.channelsLast(x) }
                let outputs = try context.outputs(for: x)
                for k in batch.indices {
                    liveScores.append(try context.score(image: i, outputs: outputs.map { $0.batchItem(k) }))
                }
                context.progress(i * c + Swift.min(start + batchSize, live.count), of: n * c, "\(name) \(layer.name)")
            }
            var next = liveScores.makeIterator()
            let scores = isZero.map { $0 ? zeroScore! : next.next()! }
            let p = softmax(scores)
            for (k, ch) in chosen.enumerated() { weights[i * c + ch] = p[k] }
        }
        return Tensor(shape: [n, c], floats: weights)
    }

    /// The `count` channels of a (C, h, w) map whose values vary most (largest variance).
    static func mostVarying(_ a: Tensor, count: Int) throws -> [Int] {
        let (c, plane) = (a.shape[0], a.count / a.shape[0])
        let v = a.toFloats()
        let variance = (0..<c).map { ch -> Double in
            let x = v[(ch * plane)..<((ch + 1) * plane)].map(Double.init)
            let mean = x.reduce(0, +) / Double(plane)
            return x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(plane)
        }
        return Array(variance.indices.sorted { variance[$0] > variance[$1] || (variance[$0] == variance[$1] && $0 < $1) }.prefix(count)).sorted()
    }
}
