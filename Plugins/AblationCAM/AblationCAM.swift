import CAMCore

/// Ablation-CAM (Desai & Ramaswamy, 2020): a channel's weight is the relative drop of the
/// target's score when that channel is ablated, (y − y_c) / y.
///
/// Only the part of the graph after the target layer runs for the ablated batches: everything
/// before it is computed once. Options:
/// - `batch-size` (default 32, upstream's);
/// - `ratio` — upstream's `ratio_channels_to_ablate` (1: every channel);
/// - `ablation-value=V` — a fixed value for ablated channels. By default upstream's rule: 0
///   when the activations' minimum is 0, else `min − 1e7`, with the minimum re-read after
///   every row of a batch, so row i gets about `min − (i+1)·1e7`.
/// For a token tensor (N, T, C) the channel is the last axis (upstream's `AblationLayerVit`).
final class AblationCAM: ChannelWeightedCAM {
    let name = "ablationcam"
    let summary = "Ablation-CAM: channels weighted by the score drop when ablated; runs only the graph after the layer (options batch-size=32, ratio, ablation-value)"

    func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: false) }

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        let batchSize = try context.options.int("batch-size", default: 32)
        let ratio = try context.options.float("ratio", default: 1)
        let fixed: Float? = context.options["ablation-value"] == nil ? nil : try context.options.float("ablation-value", default: 0)
        guard batchSize > 0 else { throw CAMError(.usage, "option batch-size: must be positive") }
        guard ratio > 0 && ratio <= 1 else { throw CAMError(.usage, "option ratio: must be in (0, 1]") }
        let raw = layer.value
        guard raw.rank == 4 || raw.rank == 3 else { throw CAMError(.usage, "ablationcam needs an (N, C, h, w) or (N, tokens, C) layer, got \(raw.shape)") }
        let channelAxis = raw.rank == 4 ? 1 : 2
        let n = raw.shape[0], c = raw.shape[channelAxis]
        let runner = try context.suffixRunner(after: layer.id)
        let frontier = try runner.frontierValues(input: context.input)
        var weights = [Float](repeating: 0, count: n * c)
        for i in 0..<n {
            let original = try context.score(image: i, outputs: context.outputs.map { $0.batchItem(i) })
            let item = raw.batchItem(i)
            let channels = ratio == 1 ? Array(0..<c) : try Self.channelsToAblate(layer.activations.batchItem(i), ratio: ratio)
            var scores: [Float] = []
            for start in stride(from: 0, to: channels.count, by: batchSize) {
                let batch = Array(channels[start..<Swift.min(start + batchSize, channels.count)])
                let rows = try Self.ablated(item, channels: batch, axis: channelAxis - 1, fixed: fixed)
                let outputs = try runner.outputs(layerValue: rows, image: i, frontier: frontier, input: context.input)
                for k in batch.indices { scores.append(try context.score(image: i, outputs: outputs.map { $0.batchItem(k) })) }
                context.progress(i * c + Swift.min(start + batchSize, channels.count), of: n * c, "\(name) \(layer.name)")
            }
            let assembled = Self.assemble(scores, original: original, ablated: channels, count: c)
            for ch in 0..<c { weights[i * c + ch] = (original - assembled[ch]) / original }
        }
        return Tensor(shape: [n, c], floats: weights)
    }

    /// `channels.count` copies of one image's layer value, row k with channel `channels[k]`
    /// (along `axis` of the item) set to the ablation value.
    static func ablated(_ item: Tensor, channels: [Int], axis: Int, fixed: Float?) throws -> Tensor {
        let rows = try Tensor.repeatRows(item, count: channels.count)
        let values = rows.mutableFloats
        let shape = item.shape
        let outer = shape[..<axis].reduce(1, *), dim = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        let itemCount = item.count
        var minimum = item.toFloats().min() ?? 0
        for (k, ch) in channels.enumerated() {
            let value: Float
            if let fixed { value = fixed } else if minimum == 0 { value = 0 } else { value = minimum - 1e7; minimum = Swift.min(minimum, value) }
            for o in 0..<outer {
                let base = k * itemCount + (o * dim + ch) * inner
                for j in 0..<inner { values[base + j] = value }
            }
        }
        return rows
    }

    /// upstream's `assemble_ablation_scores`: scores for the ablated channels (in ascending
    /// channel order), the original score for the others.
    static func assemble(_ scores: [Float], original: Float, ablated: [Int], count: Int) -> [Float] {
        let order = ablated.indices.sorted { ablated[$0] < ablated[$1] }
        let channels = order.map { ablated[$0] }, sorted = order.map { scores[$0] }
        var index = 0
        return (0..<count).map { i in
            if index < channels.count && channels[index] == i {
                defer { index += 1 }
                return sorted[index]
            }
            return original
        }
    }

    /// upstream's `AblationLayer.activations_to_be_ablated` for ratio < 1: channels ranked by
    /// how much of them lies inside the EigenCAM mask; the top and the bottom `ratio` of them.
    static func channelsToAblate(_ activations: Tensor, ratio: Float) throws -> [Int] {
        let (c, h, w) = (activations.shape[0], activations.shape[1], activations.shape[2])
        let projection = try EigenProjection.firstComponent(activations.reshaped(to: [1, c, h, w])).toFloats().map(abs)
        let lo = projection.min()!, hi = projection.map { $0 - lo }.max()!
        let mask = projection.map { ($0 - lo) / hi > 0.01 ? Float(1) : 0 }
        let v = activations.toFloats(), plane = h * w
        let scores = (0..<c).map { ch -> Float in
            let x = v[(ch * plane)..<((ch + 1) * plane)].map(abs)
            let m = x.min()!
            let shifted = x.map { $0 - m }
            let top = shifted.max()!
            let normalized = shifted.map { $0 / top }
            return zip(mask, normalized).reduce(0) { $0 + $1.0 * $1.1 } / normalized.reduce(0, +)
        }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        let k = Int(Float(c) * ratio)
        return Array(order.reversed().prefix(k)) + Array(order.prefix(k))
    }
}
