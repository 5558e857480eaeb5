import CAMCore

/// SESS, Saliency Enhancing with Scaling and Sliding (Tyagi et al., 2022): the picture at
/// several scales, a sliding window over each, a base method's CAM for every patch weighted by
/// the patch's class probability, pasted back and fused (mean of the positive values), then
/// blurred — upstream's `SESS` with its defaults.
///
/// Options: `base-method` (gradcam), `num-scales` (12), `scale-step` (2/7), `window` (the
/// shorter side), `step` (the window), `pool` (mean|max), `theta` (0), `smooth` (1), and
/// `batch-size` (32).
final class SESS: CAMMethod {
    let name = "sess"
    let summary = "SESS: a base method over scaled, sliding-window patches, fused (options base-method, num-scales, batch-size, …)"

    func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: false) }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        let o = context.options
        let base = try PluginRegistry.shared.method(named: o["base-method"] ?? "gradcam")
        guard base !== self else { throw CAMError(.usage, "sess cannot be its own base method") }
        let (h, w) = context.inputSize
        let window = try o.int("window", default: Swift.min(h, w))
        let step = try o.int("step", default: window)
        let scales = try o.int("num-scales", default: 12)
        let ratio = try o.float("scale-step", default: 2.0 / 7.0)
        let batchSize = try o.int("batch-size", default: 32)
        let pool = o["pool"] ?? "mean"
        let theta = try o.float("theta", default: 0)
        let smooth = try o.int("smooth", default: 1) != 0
        guard window > 0, step > 0, scales > 0, batchSize > 0, pool == "mean" || pool == "max" else {
            throw CAMError(.usage, "sess options: window, step, num-scales and batch-size must be positive, pool mean or max")
        }
        // Patches are cut from an NCHW copy and handed to the model in its own layout.
        let nhwc = context.model.inputLayout == .nhwc
        let nchwInput = nhwc ? try CAMMath.channelsFirst(context.input) : context.input
        func forModel(_ t: Tensor) throws -> Tensor { nhwc ? try CAMMath.channelsLast(t) : t }
        let stepSize = Int((Float(window) * ratio).rounded(.toNearestOrEven))
        let sizes = (0..<scales).map { window + stepSize * $0 }
        var fused: [Float] = []
        for i in 0..<context.batchSize {
            let image = nchwInput.batchSlice(i..<(i + 1))
            // Every patch of every scale, with where it came from.
            var patches: [Tensor] = []
            var places: [(x: Int, y: Int, width: Int, height: Int)] = []
            for s in sizes {
                let (sh, sw) = h <= w ? (s, Int(Float(s) * Float(w) / Float(h))) : (Int(Float(s) * Float(h) / Float(w)), s)
                let scaled = try CAMMath.resizeBilinear(image, to: (sh, sw))
                for y in Self.starts(sh, step, window) {
                    for x in Self.starts(sw, step, window) {
                        patches.append(try CAMMath.crop(scaled, top: y, left: x, height: window, width: window))
                        places.append((x, y, sw, sh))
                    }
                }
            }
            // Each patch's class probability under the image's target.
            var scores: [Float] = []
            for start in stride(from: 0, to: patches.count, by: batchSize) {
                let batch = try forModel(try Tensor.concatenateBatches(Array(patches[start..<Swift.min(start + batchSize, patches.count)])))
                let outputs = try context.outputs(for: batch)
                for k in 0..<batch.shape[0] {
                    let probabilities = Tensor(shape: [outputs[0].shape[1]], floats: softmax(outputs[0].batchItem(k).toFloats()))
                    scores.append(Swift.max(try context.targets[i].evaluate(outputs: [probabilities] + outputs.dropFirst().map { $0.batchItem(k) }).value, 0))
                }
            }
            let order = scores.indices.sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            let top = scores[order.last!]
            let weights = order.map { top > 0 ? scores[$0] / top : 1 }
            var total = [Float](repeating: 0, count: h * w), counts = [Float](repeating: 0, count: h * w)
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let indices = Array(order[start..<Swift.min(start + batchSize, order.count)])
                let batch = try forModel(try Tensor.concatenateBatches(indices.map { patches[$0] }))
                let result = try context.explain(with: base, input: batch, targets: indices.map { _ in context.targets[i] })
                guard let maps = result.maps else { throw CAMError(.usage, "sess's base method must produce maps") }
                for (k, index) in indices.enumerated() {
                    let cam = maps.batchItem(k).toFloats().map { $0 * weights[start + k] }
                    let place = places[index]
                    var full = [Float](repeating: 0, count: place.width * place.height)
                    for r in 0..<window { for c in 0..<window { full[(place.y + r) * place.width + place.x + c] = cam[r * window + c] } }
                    let back = try OpenCVResize.bilinear(full, width: place.width, height: place.height, toWidth: w, toHeight: h)
                    for p in 0..<(h * w) {
                        if pool == "max" { total[p] = Swift.max(total[p], back[p]) }
                        else if back[p] > theta { total[p] += back[p]; counts[p] += 1 }
                    }
                }
                context.progress(start + indices.count, of: order.count, "\(name) image \(i + 1)/\(context.batchSize)")
            }
            var cam = pool == "max" ? total : (0..<(h * w)).map { counts[$0] > 0 ? total[$0] / counts[$0] : 0 }
            if smooth { cam = GaussianBlur.blur(cam, width: w, height: h, size: 11, sigma: 5) }
            fused += cam
        }
        let raw = Tensor(shape: [context.batchSize, h, w], floats: fused)
        return .combined(raw, layerMaps: [LayerMap(raw: raw)])
    }

    /// upstream's `window_starts`: starts every `step`; the last window is moved back inside.
    static func starts(_ length: Int, _ step: Int, _ window: Int) -> [Int] {
        var out: [Int] = []
        var start = 0
        while start < length {
            if start + window >= length { out.append(Swift.max(length - window, 0)); break }
            out.append(start)
            start += step
        }
        return out
    }
}
