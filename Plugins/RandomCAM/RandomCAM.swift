import CAMCore

/// RandomCAM: channel weights drawn uniformly from [-1, 1] — a baseline for CAM metrics.
/// Seeded with `--method-option seed=N` (default 0), so runs are repeatable.
final class RandomCAM: ChannelWeightedCAM {
    let name = "randomcam"
    let summary = "RandomCAM: uniform random channel weights in [-1, 1] (a metrics baseline; option seed)"

    func requirements(options: CAMOptions) throws -> CAMRequirements {
        var r = CAMRequirements(layerGradients: false)
        r.usesTargets = false  // the map ignores the target: none is built, so any model (a detector) works
        return r
    }

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        var state = UInt64(bitPattern: Int64(try context.options.int("seed", default: 0))) &+ 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Float((z ^ (z >> 31)) >> 40) / Float(1 << 24) * 2 - 1
        }
        let (n, c) = (layer.activations.shape[0], layer.activations.shape[1])
        return Tensor(shape: [n, c], floats: (0..<(n * c)).map { _ in next() })
    }
}
