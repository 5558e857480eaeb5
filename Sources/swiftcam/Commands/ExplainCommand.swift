import ArgumentParser
import CAMCore
import Foundation

/// `swiftcam explain`: CAMs for a batch, written as overlays and/or arrays.
let decoderHelp = "yolov8 | yolov5 | picodet, then :key=value options (score, nms, classes, activation=none|sigmoid, multi-label, max-detections; yolo: layout, output, normalized; picodet: strides, reg-max, offset)"

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

    @Option(name: .long, help: ArgumentHelp(TargetOption.help, valueName: "name[:args]"))
    var target: [String] = []

    @Option(name: .long, help: ArgumentHelp("How to read a detector's head for --target boxes: \(decoderHelp)", valueName: "format[:options]"))
    var decoder: String?

    @Option(name: .customLong("draw-boxes"), help: "Boxes drawn on overlays for detection targets: explained (the boxes the CAM explains), all (every detection), none.")
    var drawBoxes: String = "explained"

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

    @Option(name: .customLong("raw-npy"), help: "Write the first target layer's raw map (N, h, w) — upstream's get_cam_image, before ReLU, scaling and resizing — to this .npy.")
    var rawNpy: String?

    @Option(name: .customLong("weights-npy"), help: "Write the first target layer's channel weights (N, C), for methods that have them, to this .npy.")
    var weightsNpy: String?

    @Option(name: .customLong("image-weight"), help: "Weight of the picture in the overlay, in [0, 1] (upstream's image_weight).")
    var imageWeight: Double = 0.5

    @Option(name: .long, help: "Overlay colormap: \(Colormap.allCases.map(\.rawValue).joined(separator: ", ")).")
    var colormap: String = "jet"

    @Option(name: .customLong("overlay-format"), help: "png or jpg.")
    var overlayFormat: String = "png"

    @Option(name: .customLong("overlay-width"), help: "Scale overlays to this width in pixels (PIL's antialiased bicubic; default: the maps' size).")
    var overlayWidth: Int?

    func validate() throws {
        guard (0...1).contains(imageWeight) else { throw ValidationError("--image-weight must be in [0, 1], got \(imageWeight)") }
        guard Colormap(rawValue: colormap) != nil else { throw ValidationError("--colormap must be one of \(Colormap.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard ["png", "jpg", "jpeg"].contains(overlayFormat) else { throw ValidationError("--overlay-format must be png or jpg") }
        guard ["explained", "all", "none"].contains(drawBoxes) else { throw ValidationError("--draw-boxes must be explained, all or none") }
        if let w = overlayWidth, w < 8 || w > 16384 { throw ValidationError("--overlay-width must be between 8 and 16384, got \(w)") }
        for t in target { _ = try TargetOption.parse(t) }
        try ReshapeOption.validate(reshape)
        if category.contains(where: { $0 < 0 }) { throw ValidationError("--category values must be non-negative") }
        if outputDir == nil && npy == nil && logits == nil && rawNpy == nil && weightsNpy == nil && !metricOptions.isActive {
            throw ValidationError("nothing to write: give --output-dir, --npy, --raw-npy, --weights-npy, --logits and/or --metrics")
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
        var targetSpecs = try TargetOption.resolve(target, decoder: decoder, registry: registry)
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
        guard targetSpecs.count == 1 || targetSpecs.count == n else {
            throw CAMError(.usage, "\(targetSpecs.count) --target values for \(n) images; give one for the whole batch, or one per image, in order")
        }
        // Target plugins name classes from the labels (--labels, the model card's, or beside the model).
        if let labels = Labels.path(explicit: modelOptions.labels, modelPath: modelOptions.model, card: card) {
            for k in targetSpecs.indices where targetSpecs[k].options["labels"] == nil { targetSpecs[k].options["labels"] = labels }
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
        var request = CAMRequest(method: cam, targetLayers: layers, targetFactory: targetSpecs[0].factory,
                                 categories: category.map { Optional($0) }, reshape: reshapeTransform, reshapeOptions: reshapeOptions,
                                 options: options, eigenSmooth: eigenSmooth, augSmooth: augSmooth)
        let progress = quiet ? nil : TerminalProgress()
        request.progress = progress
        request.pictures = batch.images
        request.perImageTargets = targetSpecs
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
        if let rawNpy {
            guard let raw = result.layerMaps.first?.raw else { throw CAMError(.usage, "--raw-npy: method '\(cam.name)' produces no layer map") }
            files.append((rawNpy, NPY.encode(raw)))
        }
        if let weightsNpy {
            guard let w = result.layerMaps.first?.weights else { throw CAMError(.usage, "--weights-npy: method '\(cam.name)' has no channel weights") }
            files.append((weightsNpy, NPY.encode(w)))
        }
        var imagesPerItem = [[String]](repeating: [], count: n)
        if let outputDir {
            let pictures = try batch.images ?? (0..<n).map { try denormalized(batch.tensor, index: $0, layout: model.inputLayout) }
            var stems = Set<String>()
            for i in 0..<n {
                var stem = "\(batch.names[i])_\(method)"
                var k = 1
                while stems.contains(stem) { stem = "\(batch.names[i])_\(k)_\(method)"; k += 1 }
                stems.insert(stem)
                for (suffix, full) in try pictureOutputs(result, guidedResult, item: i, picture: pictures[i], boxes: boxesToDraw(result.targets[i])) {
                    let image = try overlayWidth.map { w in
                        try full.resizeBicubicPIL(width: w, height: Swift.max(1, Int((Double(full.height) * Double(w) / Double(full.width)).rounded())))
                    } ?? full
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
        for path in [npy, logits, rawNpy, weightsNpy, metricOptions.metricsJSON].compactMap({ $0 }) { print("wrote \(path)") }
    }

    /// The pictures written for batch item `i`: the overlay (or, for pixel attributions, the
    /// deprocessed attribution), and with --guided the guided backprop and cam_gb images.
    func pictureOutputs(_ result: CAMResult, _ guided: CAMResult?, item i: Int, picture: RGBImage, boxes: [DetectionBox] = []) throws -> [(String, RGBImage)] {
        var out: [(String, RGBImage)] = []
        if let maps = result.maps {
            let (h, w) = (maps.shape[1], maps.shape[2])
            let map = maps.batchItem(i).toFloats()
            let base = picture.width == w && picture.height == h ? picture : try picture.resizeBilinearOpenCV(width: w, height: h)
            let cam = try overlay(image: base, cam: map, imageWeight: imageWeight, colormap: Colormap(rawValue: colormap)!)
            out.append(("", boxes.isEmpty ? cam : cam.drawing(boxes)))
            if let gb = guided?.attribution?.batchItem(i) {
                out.append(("_gb", try PixelAttribution.deprocess(gb)))
                out.append(("_cam_gb", try PixelAttribution.deprocess(PixelAttribution.weighted(gb, by: map))))
            }
        } else if let a = result.attribution {
            out.append(("", try PixelAttribution.deprocess(a.batchItem(i))))
        }
        return out
    }

    /// The boxes drawn on image `i`'s overlay (input coordinates, as the maps).
    func boxesToDraw(_ target: any Target) -> [DetectionBox] {
        guard let t = target as? any BoxTarget else { return [] }
        switch drawBoxes {
        case "all": return t.detections
        case "explained": return t.explainedBoxes
        default: return []
        }
    }

    /// A picture for an `--input-npy` item: the input with the normalisation undone.
    func denormalized(_ batch: Tensor, index: Int, layout: Graph.ImageLayout) throws -> RGBImage {
        try input.denormalized(batch, index: index, layout: layout, card: try modelOptions.card())
    }
}
