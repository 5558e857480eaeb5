import CAMCore

/// SobelCAM: the picture's edge map (upstream's `sobel_cam`) — no model, a baseline for CAM
/// metrics. Works on the pictures the batch was made from (`--image`); its layer map holds the
/// 8-bit edge values (0–255), the final map their min-max scaling.
final class SobelCAM: CAMMethod {
    let name = "sobelcam"
    let summary = "SobelCAM: the picture's Sobel edge map (a baseline; needs --image)"

    func requirements(options: CAMOptions) throws -> CAMRequirements {
        var r = CAMRequirements(layerGradients: false, usesTargetLayers: false)
        r.usesTargets = false
        return r
    }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        guard let pictures = context.pictures else {
            throw CAMError(.usage, "sobelcam works on the pictures themselves: give --image, not --input-npy")
        }
        let (h, w) = context.inputSize
        let maps = try pictures.map { p -> [Float] in
            guard p.width == w && p.height == h else { throw CAMError(.runtime, "a picture is \(p.width)×\(p.height), the input \(w)×\(h)") }
            return SobelEdges.map(p).map(Float.init)
        }
        let raw = Tensor(shape: [pictures.count, h, w], floats: maps.flatMap { $0 })
        return .combined(raw, layerMaps: [LayerMap(raw: raw)])
    }
}
