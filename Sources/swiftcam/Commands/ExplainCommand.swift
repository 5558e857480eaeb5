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
    @OptionGroup(title: "Metrics") var metricOptions: MetricOptions

    @Option(name: .long, help: "The CAM method (a plugin name; see `swiftcam plugins`).")
    var method: String = "gradcam"

    @Option(name: .customLong("target-layer"), help: "A tensor name or module path (e.g. layer4.1); repeat for several layers (default: the model card's, else the last spatial map before global pooling).")
    var targetLayers: [String] = []

    @Option(name: .long, help: ReshapeOption.help)
    var reshape: String?

    @Option(name: .long, help: "Target category per image, in order (default: each image's top class).")
    var category: [Int] = []

    @Option(name: .long, help: "Target kind: classifier (the logit) or classifier-softmax, or a target plugin.")
    var target: String = "classifier"

    @Flag(name: .customLong("eigen-smooth"), help: "First principal component of the weighted activations instead of their sum (upstream's eigen_smooth).")
    var eigenSmooth = false

    @Flag(name: .customLong("aug-smooth"), help: "Average over horizontal flip × multiply {0.9, 1, 1.1} (upstream's aug_smooth).")
    var augSmooth = false

    @Option(name: .customLong("base-method"), help: "The base method of meta-methods (finercam: gradcam, refinecam: gradcam++).")
    var baseMethod: String?

    @Option(name: .customLong("method-option"), help: "A method option KEY=VALUE; repeat for several (see each method's summary).")
    var methodOptions: [String] = []

    @Option(name: .customLong("batch-size"), help: "Forward passes per batch for scorecam (default 16) and ablationcam (default 32).")
    var batchSize: Int?

    @Option(name: .customLong("top-channels"), help: "scorecam: score only the N channels whose maps vary most (Faster-Score-CAM; not upstream's default).")
    var topChannels: Int?

    @Option(name: .customLong("ablation-value"), help: "ablationcam: a fixed value for ablated channels (default: upstream's rule).")
    var ablationValue: Float?

    @Option(name: .long, help: "Seed for randomcam.")
    var seed: Int?

    @Flag(name: .long, help: "No progress output on stderr.")
    var quiet = false

    @Flag(name: .long, help: "Also write guided backpropagation and upstream's cam_gb (CAM × guided backprop) per image.")
    var guided = false

    @Option(name: .customLong("output-dir"), help: "Write one overlay per image here.")
    var outputDir: String?

    @Option(name: .long, help: "Write the final maps, float32 (N, H, W) in [0, 1], to this .npy (pixel-attribution methods: (N, H, W, C)).")
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
        guard (0...1).contains(imageWeight) else { throw ValidationError("--image-weight must be in [0, 1], got \(imageWeight)") }
        guard Colormap(rawValue: colormap) != nil else { throw ValidationError("--colormap must be one of \(Colormap.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard ["png", "jpg", "jpeg"].contains(overlayFormat) else { throw ValidationError("--overlay-format must be png or jpg") }
        try ReshapeOption.validate(reshape)
        if category.contains(where: { $0 < 0 }) { throw ValidationError("--category values must be non-negative") }
        if outputDir == nil && npy == nil && logits == nil && !metricOptions.isActive {
            throw ValidationError("nothing to write: give --output-dir, --npy, --logits and/or --metrics")
        }
        if guided && outputDir == nil { throw ValidationError("--guided writes images: give --output-dir") }
        _ = try parsedMethodOptions()
    }

    /// `--method-option k=v` and the convenience flags, as method options.
    func parsedMethodOptions() throws -> CAMOptions {
        var values: [String: String] = [:]
        for item in methodOptions {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--method-option expects KEY=VALUE, got '\(item)'") }
            values[String(parts[0])] = String(parts[1])
        }
        if let baseMethod { values["base-method"] = baseMethod }
        if let batchSize {
            guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
            values["batch-size"] = String(batchSize)
        }
        if let topChannels {
            guard topChannels > 0 else { throw ValidationError("--top-channels must be positive, got \(topChannels)") }
            values["top-channels"] = String(topChannels)
        }
        if let ablationValue { values["ablation-value"] = String(ablationValue) }
        if let seed { values["seed"] = String(seed) }
        return CAMOptions(values)
    }

    func run() throws {
        modelOptions.prepareRuntime()
        // Resolve the plugins the run needs before doing any work.
        let registry = PluginRegistry.shared
        let cam = try registry.method(named: method)
        guard let targetFactory = registry.target(named: target) else {
            throw CAMError(.usage, "no target named '\(target)' (available: \(registry.targetNames.joined(separator: ", ")))")
        }
        let guidedMethod = guided ? try registry.method(named: "guidedbackprop") : nil
        let options = try parsedMethodOptions()
        let metrics = try metricOptions.resolve()
        let (reshapeTransform, reshapeOptions) = try ReshapeOption.resolve(reshape)
        let model = try modelOptions.load()
        let card = try modelOptions.card()
        let batch = try input.prepare(for: model, imageBatch: true, card: card)
        let n = batch.tensor.shape[0]
        guard category.isEmpty || category.count == n else {
            throw CAMError(.usage, "\(category.count) --category values for \(n) images; give one per image, in order")
        }
        // No --target-layer: the model card's, else the last spatial map before global pooling.
        var layers = targetLayers
        let usesLayers = try cam.requirements(options: options).usesTargetLayers
        if layers.isEmpty && usesLayers {
            if let fromCard = card?.targetLayer {
                layers = [fromCard]
            } else {
                let id = try LayerDiscovery.defaultLayer(model, sample: batch.tensor.batchSlice(0..<1))
                layers = [model.graph.name(of: id)]
                Diagnostics.note("target layer: \(layers[0]) (the last spatial map before pooling; --target-layer to choose another)")
            }
        }
        var request = CAMRequest(method: cam, targetLayers: layers, targetFactory: targetFactory,
                                 categories: category.map { Optional($0) }, reshape: reshapeTransform, reshapeOptions: reshapeOptions,
                                 options: options, eigenSmooth: eigenSmooth, augSmooth: augSmooth)
        let progress = quiet ? nil : TerminalProgress()
        request.progress = progress
        request.pictures = batch.images
        defer { progress?.finish() }
        let explainer = CAMExplainer(model: model)
        let result = try explainer.explain(batch.tensor, request)
        for w in result.warnings { Diagnostics.warning(w) }
        var guidedResult: CAMResult?
        if let guidedMethod {
            guard result.maps != nil else { throw CAMError(.usage, "--guided needs a method that produces class activation maps") }
            var g = request
            g.method = guidedMethod
            g.targets = result.targets
            g.augSmooth = false
            guidedResult = try explainer.explain(batch.tensor, g)
        }

        let metricScores = metrics.isEmpty ? [] : try metricOptions.evaluate(metrics, model: model, input: batch.tensor, result: result, request: request)

        // Everything is computed and encoded first; then every file is written atomically.
        var files: [(path: String, data: Data)] = []
        if let path = metricOptions.metricsJSON { files.append((path, MetricReport.json(metricScores))) }
        if let npy { files.append((npy, NPY.encode(result.maps ?? result.attribution!))) }
        if let logits { files.append((logits, NPY.encode(result.outputs[0]))) }
        var imagesPerItem = [[String]](repeating: [], count: n)
        if let outputDir {
            let pictures = try batch.images ?? (0..<n).map { try denormalized(batch.tensor, index: $0, layout: model.inputLayout) }
            var stems = Set<String>()
            for i in 0..<n {
                var stem = "\(batch.names[i])_\(method)"
                var k = 1
                while stems.contains(stem) { stem = "\(batch.names[i])_\(k)_\(method)"; k += 1 }
                stems.insert(stem)
                for (suffix, image) in try pictureOutputs(result, guidedResult, item: i, picture: pictures[i]) {
                    let path = URL(fileURLWithPath: outputDir).appendingPathComponent("\(stem)\(suffix).\(overlayFormat == "png" ? "png" : "jpg")").path
                    files.append((path, overlayFormat == "png" ? try image.pngData() : try image.jpegData()))
                    imagesPerItem[i].append(path)
                }
            }
        }
        for f in files { try AtomicFile.write(f.data, to: f.path) }

        let labels = try Labels.find(explicit: modelOptions.labels, modelPath: modelOptions.model, card: card)
        for i in 0..<n {
            let target = result.targets[i].description
            let cls = (result.targets[i] as? ClassifierOutputTarget)?.category ?? (result.targets[i] as? ClassifierOutputSoftmaxTarget)?.category
            let label = cls.flatMap { labels?.name($0) }.map { " “\($0)”" } ?? ""
            print("\(batch.names[i]): \(cam.name) for \(target)\(label)" + (imagesPerItem[i].isEmpty ? "" : " → \(imagesPerItem[i].joined(separator: ", "))"))
        }
        for line in MetricOptions.lines(names: batch.names, metricScores) where !metricScores.isEmpty { print(line) }
        for path in [npy, logits, metricOptions.metricsJSON].compactMap({ $0 }) { print("wrote \(path)") }
    }

    /// The pictures written for batch item `i`: the overlay (or, for pixel attributions, the
    /// deprocessed attribution), and with --guided the guided backprop and cam_gb images.
    func pictureOutputs(_ result: CAMResult, _ guided: CAMResult?, item i: Int, picture: RGBImage) throws -> [(String, RGBImage)] {
        var out: [(String, RGBImage)] = []
        if let maps = result.maps {
            let (h, w) = (maps.shape[1], maps.shape[2])
            let map = maps.batchItem(i).toFloats()
            let base = picture.width == w && picture.height == h ? picture : try picture.resizeBilinearOpenCV(width: w, height: h)
            out.append(("", try overlay(image: base, cam: map, imageWeight: imageWeight, colormap: Colormap(rawValue: colormap)!)))
            if let gb = guided?.attribution?.batchItem(i) {
                out.append(("_gb", try PixelAttribution.deprocess(gb)))
                out.append(("_cam_gb", try PixelAttribution.deprocess(PixelAttribution.weighted(gb, by: map))))
            }
        } else if let a = result.attribution {
            out.append(("", try PixelAttribution.deprocess(a.batchItem(i))))
        }
        return out
    }

    /// A picture for an `--input-npy` item: the input with the normalisation undone.
    func denormalized(_ batch: Tensor, index: Int, layout: Graph.ImageLayout) throws -> RGBImage {
        try input.denormalized(batch, index: index, layout: layout, card: try modelOptions.card())
    }
}
