import ArgumentParser
import CAMCore
import Foundation

/// `swiftcam dff`: deep feature factorization — the concepts a layer's activations are made of,
/// each concept's map, its top classes through the classifier head, and upstream's picture.
struct DFFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dff",
        abstract: "Deep feature factorization: split a layer's activations into K concepts (NMF) and show where each is.",
        discussion: """
        Writes per image <name>_dff.png: the picture, every pixel coloured by its dominant concept \
        (pytorch-grad-cam's show_factorization_on_image), and with --head-layer a legend of each \
        concept's top classes (softmax of the head applied to the concept, as run_dff_on_image).
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var input: InputOptions

    @Option(name: .customLong("target-layer"), help: "The layer to factorize: a tensor name or module path (default: the model card's, else the last spatial map before global pooling).")
    var targetLayer: String?

    @Option(name: .long, help: "K, the number of concepts.")
    var concepts: Int

    @Option(name: .customLong("head-layer"), help: "The layer that scores a concept (upstream's computation_on_concepts), e.g. fc for torchvision's ResNets or a Keras Dense layer's name.")
    var headLayer: String?

    @Option(name: .customLong("head-input"), help: "Instead of --head-layer: the tensor the concepts are fed into; the model's first output is read.")
    var headInput: String?

    @Option(name: .customLong("top-k"), help: "Classes per concept in the legend and on stdout.")
    var topK: Int = 2

    @Option(name: .long, help: ReshapeOption.help)
    var reshape: String?

    @Option(name: .long, help: "The factorization plugin.")
    var factorization: String = "dff"

    @Option(name: .long, help: "Seed of the NMF's random start (sklearn's random_state; upstream uses 0).")
    var seed: UInt64 = 0

    @Option(name: .customLong("max-iter"), help: "At most this many NMF sweeps (sklearn's max_iter).")
    var maxIterations: Int = 200

    @Option(name: .long, help: "Stop when the projected gradient falls to this fraction of the first sweep's (sklearn's tol).")
    var tolerance: Double = 1e-4

    @Option(name: .customLong("image-weight"), help: "Weight of the picture in the overlay, in [0, 1] (run_dff_on_image's 0.3).")
    var imageWeight: Double = 0.3

    @Option(name: .customLong("output-dir"), help: "Write one picture per image here.")
    var outputDir: String?

    @Option(name: .long, help: "Write the concept maps, float32 (N, K, H, W) in [0, 1], to this .npy (upstream's batch_explanations).")
    var npy: String?

    @Option(name: .customLong("concepts-npy"), help: "Write the concept embeddings, float32 (C, K), to this .npy.")
    var conceptsNPY: String?

    @Option(name: .customLong("scores-npy"), help: "Write the head's outputs for the concepts, float32 (K, classes), to this .npy (upstream's concept_outputs).")
    var scoresNPY: String?

    func validate() throws {
        guard concepts >= 1 else { throw ValidationError("--concepts must be at least 1, got \(concepts)") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        guard maxIterations >= 0 else { throw ValidationError("--max-iter must be ≥ 0, got \(maxIterations)") }
        guard tolerance >= 0 else { throw ValidationError("--tolerance must be ≥ 0, got \(tolerance)") }
        guard (0...1).contains(imageWeight) else { throw ValidationError("--image-weight must be in [0, 1], got \(imageWeight)") }
        if headLayer != nil && headInput != nil { throw ValidationError("give --head-layer or --head-input, not both") }
        if scoresNPY != nil && headLayer == nil && headInput == nil { throw ValidationError("--scores-npy needs --head-layer or --head-input") }
        try ReshapeOption.validate(reshape)
    }

    func run() throws {
        modelOptions.prepareRuntime()
        let factorizer = try PluginRegistry.shared.factorization(named: factorization)
        let (reshapeTransform, reshapeOptions) = try ReshapeOption.resolve(reshape)
        let model = try modelOptions.load()
        let card = try modelOptions.card()
        let batch = try input.prepare(for: model, imageBatch: true, card: card)
        let n = batch.tensor.shape[0]
        var layer = targetLayer ?? card?.targetLayer
        if layer == nil {
            let id = try LayerDiscovery.defaultLayer(model, sample: batch.tensor.batchSlice(0..<1))
            layer = model.graph.name(of: id)
            Diagnostics.note("target layer: \(layer!) (the last spatial map before pooling; --target-layer to choose another)")
        }
        let request = DFFRequest(targetLayer: layer!, components: concepts, head: headLayer, headInput: headInput,
                                 reshape: reshapeTransform, reshapeOptions: reshapeOptions,
                                 options: FactorizationOptions(maxIterations: maxIterations, tolerance: tolerance, seed: seed))
        let result = try DeepFeatureFactorization(model: model, factorization: factorizer).run(batch.tensor, request)
        let f = result.factorization
        let labels = try Labels.find(explicit: modelOptions.labels, modelPath: modelOptions.model, card: card)
        // upstream's run_dff_on_image: the softmax of the head's outputs, top-k classes per concept.
        let probabilities = result.conceptScores.map { scores -> Tensor in
            let classes = scores.count / concepts
            return Tensor(shape: [concepts, classes], floats: (0..<concepts).flatMap { k in softmax(Array(scores.floats[(k * classes)..<((k + 1) * classes)])) })
        }
        let legend = probabilities.map { FactorizationVisualization.labels(scores: $0, names: labels?.names, topK: topK) }

        // Each image's share of pixels per dominant concept.
        let (h, w) = (result.maps.shape[2], result.maps.shape[3])
        let shares: [[Double]] = (0..<n).map { i in
            var counts = [Int](repeating: 0, count: concepts)
            let m = result.maps.floats, base = i * concepts * h * w
            for p in 0..<(h * w) {
                var best = 0
                for k in 1..<concepts where m[base + k * h * w + p] > m[base + best * h * w + p] { best = k }
                counts[best] += 1
            }
            return counts.map { Double($0) / Double(h * w) }
        }

        var files: [(path: String, data: Data)] = []
        if let npy { files.append((npy, NPY.encode(result.maps))) }
        if let conceptsNPY { files.append((conceptsNPY, NPY.encode(f.concepts))) }
        if let scoresNPY, let scores = result.conceptScores { files.append((scoresNPY, NPY.encode(scores))) }
        var written = [String?](repeating: nil, count: n)
        if let outputDir {
            var stems = Set<String>()
            for i in 0..<n {
                let picture = try batch.images?[i] ?? input.denormalized(batch.tensor, index: i, layout: model.inputLayout, card: card)
                let photo = picture.width == w && picture.height == h ? picture : try picture.resizeBilinearOpenCV(width: w, height: h)
                let maps = Tensor(shape: [concepts, h, w], floats: Array(result.maps.floats[(i * concepts * h * w)..<((i + 1) * concepts * h * w)]))
                var panels = [photo, try FactorizationVisualization.overlay(image: photo, maps: maps, imageWeight: imageWeight)]
                if let legend { panels.append(try FactorizationVisualization.legend(width: w, height: h, labels: legend)) }
                var stem = "\(batch.names[i])_dff"
                var k = 1
                while stems.contains(stem) { stem = "\(batch.names[i])_\(k)_dff"; k += 1 }
                stems.insert(stem)
                let path = URL(fileURLWithPath: outputDir).appendingPathComponent("\(stem).png").path
                files.append((path, try FactorizationVisualization.sideBySide(panels).pngData()))
                written[i] = path
            }
        }
        for file in files { try AtomicFile.write(file.data, to: file.path) }

        let a = result.activations
        print(String(format: "%@: %d concepts of %@ (%d channels × %d positions), %d NMF sweeps, ‖A − WH‖ = %.4g",
                     factorizer.name, concepts, layer!, a.shape[1], a.shape[0] * a.shape[2] * a.shape[3], f.iterations, f.reconstructionError))
        for k in 0..<concepts {
            let text = legend.map { $0[k].replacingOccurrences(of: "\n", with: ", ") } ?? "(no head: give --head-layer for its classes)"
            print("concept \(k): \(text)")
        }
        for i in 0..<n {
            let share = shares[i].map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " ")
            print("\(batch.names[i]): dominant concept share \(share)" + (written[i].map { " → \($0)" } ?? ""))
        }
        for path in [npy, conceptsNPY, scoresNPY].compactMap({ $0 }) { print("wrote \(path)") }
    }
}
