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
        let (n, c, h, w) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        let topChannels = try context.options.int("top-channels", default: c)
        guard topChannels > 0 else { throw CAMError(.usage, "option top-channels: must be positive") }
        let size = context.inputSize
        let nchwInput = context.model.inputLayout == .nhwc ? try CAMMath.channelsFirst(context.input) : context.input
        let channels = nchwInput.shape[1]
        var weights = [Float](repeating: 0, count: n * c)
        var zeroInputOutputs: [Tensor]?
        for i in 0..<n {
            let image = nchwInput.batchItem(i)
            let maps = a.batchItem(i)
            let chosen = topChannels >= c ? Array(0..<c) : try Self.mostVarying(maps, count: topChannels)
            var scores = [Float?](repeating: nil, count: chosen.count)
            // Masked inputs waiting for a forward pass, with their positions in `chosen`.
            var pending: [Tensor] = [], pendingPositions: [Int] = []
            var done = 0
            func runPending() throws {
                guard !pending.isEmpty else { return }
                var x = pending.count == 1 ? pending[0] : try Concat(axis: 0).forward(pending)[0]
                if context.model.inputLayout == .nhwc { x = try CAMMath.channelsLast(x) }
                let outputs = try context.outputs(for: x)
                for (k, position) in pendingPositions.enumerated() {
                    scores[position] = try context.score(image: i, outputs: outputs.map { $0.batchItem(k) })
                }
                done += pendingPositions.count
                context.progress(i * c + done, of: n * c, "\(name) \(layer.name)")
                (pending, pendingPositions) = ([], [])
            }
            // A batch's worth of channels at a time, upsampled to the input, so memory stays
            // bounded by the batch size whatever the channel count.
            for start in stride(from: 0, to: chosen.count, by: batchSize) {
                let group = Array(chosen[start..<Swift.min(start + batchSize, chosen.count)])
                let selected = Tensor(uninitialized: [1, group.count, h, w])
                for (k, ch) in group.enumerated() {
                    (selected.mutableFloats.baseAddress! + k * h * w).update(from: maps.floats.baseAddress! + ch * h * w, count: h * w)
                }
                let upsampled = try CAMMath.upsampleAlignCorners(selected, to: size)
                let ranges = try CAMMath.planeRanges(upsampled)
                var live: [Int] = []
                for k in group.indices {
                    if ranges[k].max - ranges[k].min != 0 { live.append(k); continue }
                    // A mask that is all zeros masks the input to zeros: one score, the model's on a zero input.
                    if zeroInputOutputs == nil {
                        var zero = Tensor(zeros: [1, channels, size.height, size.width])
                        if context.model.inputLayout == .nhwc { zero = try CAMMath.channelsLast(zero) }
                        zeroInputOutputs = try context.outputs(for: zero)
                    }
                    scores[start + k] = try context.score(image: i, outputs: zeroInputOutputs!.map { $0.batchItem(0) })
                }
                // Live masks fill forward passes of exactly `batchSize` inputs.
                var next = 0
                while next < live.count {
                    let take = Swift.min(batchSize - pendingPositions.count, live.count - next)
                    let planes = Array(live[next..<(next + take)])
                    pending.append(try CAMMath.maskedInputs(image, maps: upsampled, planes: planes, ranges: ranges))
                    pendingPositions += planes.map { start + $0 }
                    next += take
                    if pendingPositions.count == batchSize { try runPending() }
                }
            }
            try runPending()
            let p = softmax(scores.map { $0! })
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
