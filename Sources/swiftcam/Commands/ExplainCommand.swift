import ArgumentParser
import CAMCore
import Foundation

/// `swiftcam explain`: CAMs for a batch, written as overlays and/or arrays.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Compute class activation maps and write overlays, maps and logits."
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var input: InputOptions

    @Option(name: .long, help: "The CAM method (a plugin name; see `swiftcam plugins`).")
    var method: String = "gradcam"

    @Option(name: .customLong("target-layer"), help: "A tensor name or module path (e.g. layer4.1); repeat for several layers.")
    var targetLayers: [String] = []

    @Option(name: .long, help: ReshapeOption.help)
    var reshape: String?

    @Option(name: .long, help: "Target category per image, in order (default: each image's top class).")
    var category: [Int] = []

    @Option(name: .long, help: "Target kind: classifier (the logit) or classifier-softmax, or a target plugin.")
    var target: String = "classifier"

    @Option(name: .customLong("output-dir"), help: "Write one overlay per image here.")
    var outputDir: String?

    @Option(name: .long, help: "Write the final maps, float32 (N, H, W) in [0, 1], to this .npy.")
    var npy: String?

    @Option(name: .long, help: "Write the model's output for the batch to this .npy.")
    var logits: String?

    @Option(name: .customLong("image-weight"), help: "Weight of the picture in the overlay, in [0, 1] (upstream's image_weight).")
    var imageWeight: Double = 0.5

    @Option(name: .long, help: "Overlay colormap: \(Colormap.allCases.map(\.rawValue).joined(separator: ", ")).")
    var colormap: String = "jet"

    @Option(name: .customLong("overlay-format"), help: "png or jpg.")
    var overlayFormat: String = "png"

    func validate() throws {
        if targetLayers.isEmpty { throw ValidationError("give at least one --target-layer (a tensor name or module path)") }
        guard (0...1).contains(imageWeight) else { throw ValidationError("--image-weight must be in [0, 1], got \(imageWeight)") }
        guard Colormap(rawValue: colormap) != nil else { throw ValidationError("--colormap must be one of \(Colormap.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard ["png", "jpg", "jpeg"].contains(overlayFormat) else { throw ValidationError("--overlay-format must be png or jpg") }
        try ReshapeOption.validate(reshape)
        if category.contains(where: { $0 < 0 }) { throw ValidationError("--category values must be non-negative") }
        if outputDir == nil && npy == nil && logits == nil {
            throw ValidationError("nothing to write: give --output-dir, --npy and/or --logits")
        }
    }

    func run() throws {
        modelOptions.prepareRuntime()
        // Resolve the plugins the run needs before doing any work.
        let cam = try PluginRegistry.shared.method(named: method)
        guard let targetFactory = PluginRegistry.shared.target(named: target) else {
            throw CAMError(.usage, "no target named '\(target)' (available: \(PluginRegistry.shared.targetNames.joined(separator: ", ")))")
        }
        let (reshapeTransform, reshapeOptions) = try ReshapeOption.resolve(reshape)
        let model = try modelOptions.load()
        let batch = try input.prepare(for: model, imageBatch: true)
        let n = batch.tensor.shape[0]
        guard category.isEmpty || category.count == n else {
            throw CAMError(.usage, "\(category.count) --category values for \(n) images; give one per image, in order")
        }
        let request = CAMRequest(method: cam, targetLayers: targetLayers, targetFactory: targetFactory,
                                 categories: category.map { Optional($0) }, reshape: reshapeTransform, reshapeOptions: reshapeOptions)
        let result = try CAMExplainer(model: model).explain(batch.tensor, request)
        for w in result.warnings { Diagnostics.warning(w) }

        // Everything is computed; now write, each file atomically.
        var written: [String] = []
        if let npy {
            try NPY.write(result.maps, to: npy)
            written.append(npy)
        }
        if let logits {
            try NPY.write(result.outputs[0], to: logits)
            written.append(logits)
        }
        let labels = try Labels.find(explicit: modelOptions.labels, modelPath: modelOptions.model)
        let overlays = try outputDir.map { dir in try writeOverlays(result, batch, layout: model.inputLayout, to: dir) } ?? []
        for i in 0..<n {
            let target = result.targets[i].description
            let cls = (result.targets[i] as? ClassifierOutputTarget)?.category ?? (result.targets[i] as? ClassifierOutputSoftmaxTarget)?.category
            let label = cls.flatMap { labels?.name($0) }.map { " “\($0)”" } ?? ""
            print("\(batch.names[i]): \(cam.name) for \(target)\(label)" + (i < overlays.count ? " → \(overlays[i])" : ""))
        }
        for path in written { print("wrote \(path)") }
    }

    /// One overlay per image; names are unique within the folder.
    func writeOverlays(_ result: CAMResult, _ batch: PreparedInput, layout: Graph.ImageLayout, to dir: String) throws -> [String] {
        let (n, h, w) = (result.maps.shape[0], result.maps.shape[1], result.maps.shape[2])
        let pictures = try batch.images ?? (0..<n).map { try denormalized(batch.tensor, index: $0, layout: layout) }
        var used = Set<String>()
        var paths: [String] = []
        let ext = overlayFormat == "png" ? "png" : "jpg"
        for i in 0..<n {
            var name = "\(batch.names[i])_\(method)"
            var k = 1
            while used.contains(name) { name = "\(batch.names[i])_\(k)_\(method)"; k += 1 }
            used.insert(name)
            let map = Array(result.maps.floats[(i * h * w)..<((i + 1) * h * w)])
            let picture = pictures[i]
            let base = picture.width == w && picture.height == h ? picture : try picture.resizeBilinearOpenCV(width: w, height: h)
            let image = try overlay(image: base, cam: map, imageWeight: imageWeight, colormap: Colormap(rawValue: colormap)!)
            let path = URL(fileURLWithPath: dir).appendingPathComponent("\(name).\(ext)").path
            if ext == "png" { try image.write(png: path) } else { try image.write(jpeg: path) }
            paths.append(path)
        }
        return paths
    }

    /// A picture for an `--input-npy` item: the input with the normalisation undone.
    func denormalized(_ batch: Tensor, index: Int, layout: Graph.ImageLayout) throws -> RGBImage {
        let t = layout == .nhwc ? try InputOptions.relayout(batch, to: .nchw) : batch
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        let p = try input.preprocessing(declared: (h, w))
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
                    let src = Swift.min(ch, c - 1)
                    let channelFed = p.bgr ? 2 - ch : ch
                    let fed = Swift.min(channelFed, c - 1)
                    let v = t.floats[((index * c + (c == 1 ? src : fed)) * h + y) * w + x]
                    let k = Swift.min(fed, mean.count - 1)
                    let pixel = (v * std[k] + mean[k]) * scale
                    pixels[(y * w + x) * 3 + ch] = UInt8(Swift.max(0, Swift.min(255, pixel.rounded())))
                }
            }
        }
        return try RGBImage(width: w, height: h, pixels: pixels)
    }
}
