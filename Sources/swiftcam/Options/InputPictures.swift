import CAMCore

extension InputOptions {
    /// A picture for an `--input-npy` item: the input with the normalisation undone.
    func denormalized(_ batch: Tensor, index: Int, layout: Graph.ImageLayout, card: ModelCard?) throws -> RGBImage {
        let t = layout == .nhwc ? try InputOptions.relayout(batch, to: .nchw) : batch
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        let p = try preprocessing(declared: (h, w), card: card?.preprocessing)
        var mean: [Float] = [0, 0, 0], std: [Float] = [1, 1, 1], scale: Float = 255
        switch p.normalization {
        case .unitScale(let m, let s): mean = m; std = s
        case .rawScale(let m, let s): mean = m; std = s; scale = 1
        @unknown default: break
        }
        var pixels = [UInt8](repeating: 0, count: h * w * 3)
        for y in 0..<h {
            for x in 0..<w {
                for ch in 0..<3 {
                    let fed = Swift.min(p.bgr ? 2 - ch : ch, c - 1)
                    let v = t.floats[((index * c + fed) * h + y) * w + x]
                    let k = Swift.min(fed, mean.count - 1)
                    let pixel = (v * std[k] + mean[k]) * scale
                    pixels[(y * w + x) * 3 + ch] = UInt8(Swift.max(0, Swift.min(255, pixel.rounded())))
                }
            }
        }
        return try RGBImage(width: w, height: h, pixels: pixels)
    }
}
