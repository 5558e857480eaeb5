import Foundation

/// What a run did.
public struct PipelineReport: Sendable {
    /// Pictures explained in this run.
    public var processed = 0
    /// Pictures whose outputs were already up to date.
    public var skipped = 0
    /// Pictures that could not be read or explained, with why.
    public var failed: [(input: String, reason: String)] = []
    /// The gallery page written, if any.
    public var gallery: String?
}

/// Runs a `PipelineManifest`: every input (or this shard's share), every method, outputs
/// mirroring the inputs' paths, each written atomically with a sidecar recording its
/// provenance and fingerprint; outputs already made with the same fingerprint are skipped.
/// An unreadable picture is reported and skipped; the others complete.
///
/// ```swift
/// let report = try PipelineRunner(manifest: try PipelineManifest.load(path: "run.json")).run()
/// ```
public final class PipelineRunner: @unchecked Sendable {
    public let manifest: PipelineManifest
    let progress: (any ProgressSink)?
    let message: @Sendable (String) -> Void

    public init(manifest: PipelineManifest, progress: (any ProgressSink)? = nil, message: @escaping @Sendable (String) -> Void = { _ in }) {
        self.manifest = manifest
        self.progress = progress
        self.message = message
    }

    struct Job {
        let method: any CAMMethod
        let spec: PipelineManifest.MethodSpec
        let fingerprint: String
    }

    public func run(force: Bool = false, shard: (index: Int, count: Int)? = nil) throws -> PipelineReport {
        let m = manifest
        PluginLoader.loadAll(extraFolders: m.pluginPaths)
        if let t = m.threads { Runtime.setThreadCount(t) }
        let registry = PluginRegistry.shared
        let jobsWithoutFingerprint = try m.methods.map { (try registry.method(named: $0.name), $0) }
        guard let targetFactory = registry.target(named: m.target) else {
            throw CAMError(.usage, "\(m.file): $.target: no target named '\(m.target)' (available: \(registry.targetNames.joined(separator: ", ")))")
        }
        var reshape: (any ReshapeTransform)?, reshapeOptions: String?
        if let r = m.reshape {
            let parts = r.split(separator: ":", maxSplits: 1).map(String.init)
            guard let t = registry.reshape(named: parts[0]) else {
                throw CAMError(.usage, "\(m.file): $.reshape: no reshape transform named '\(parts[0])' (available: \(registry.reshapeNames.joined(separator: ", ")))")
            }
            reshape = t
            reshapeOptions = parts.count > 1 ? parts[1] : nil
        }
        let model = try Model.load(path: m.modelPath, loader: m.loader)
        let card = try ModelCard.find(modelPath: m.modelPath)
        let preprocessing = try m.preprocessing.merged(over: PreprocessingSettings(card: card?.preprocessing)).resolved(declared: model.declaredInputSize)
        let labels = try Labels.find(explicit: m.labels, modelPath: m.modelPath, card: card)

        var items = try InputCollection.expand(m.inputs, base: m.folder)
        if let s = shard ?? m.shard { items = InputCollection.shard(items, index: s.index, count: s.count) }

        let modelHash = try ContentHash.file(m.modelPath)
        let layers = try m.targetLayers ?? card?.targetLayer.map { [$0] } ?? defaultLayers(model, preprocessing: preprocessing, items: items)
        let settings = "\(preprocessing)|\(layers)|\(m.reshape ?? "")|\(m.target)|\(m.category.map(String.init) ?? "top")|\(m.targetOptions.sorted { $0.key < $1.key })|\(m.outputs.overlay)|\(m.outputs.colormap.rawValue)|\(m.outputs.imageWeight)|\(m.outputs.npy)"
        let jobs = jobsWithoutFingerprint.map { method, spec in
            Job(method: method, spec: spec, fingerprint: ContentHash.hex("\(modelHash)|\(spec.name)|\(spec.options.sorted { $0.key < $1.key })|\(spec.eigenSmooth)|\(spec.augSmooth)|\(settings)"))
        }

        var report = PipelineReport()
        var pending: [(InputItem, [Job])] = []
        for item in items {
            let todo = force ? jobs : jobs.filter { !upToDate(item, $0) }
            if todo.isEmpty { report.skipped += 1 } else { pending.append((item, todo)) }
        }
        let explainer = CAMExplainer(model: model)
        var done = report.skipped
        progress?.update(done: done, total: items.count, label: "run")
        for start in stride(from: 0, to: pending.count, by: m.batchSize) {
            let chunk = Array(pending[start..<Swift.min(start + m.batchSize, pending.count)])
            // Read and preprocess; a picture that fails is reported and left out.
            var ready: [(item: InputItem, jobs: [Job], tensor: Tensor, picture: RGBImage)] = []
            for (item, todo) in chunk {
                do {
                    let picture = try RGBImage.load(path: item.path)
                    var (tensor, shown) = try preprocessing.prepare([picture])
                    if model.inputLayout == .nhwc { tensor = try Transpose(perm: [0, 2, 3, 1]).forward([tensor])[0] }
                    ready.append((item, todo, tensor, shown[0]))
                } catch {
                    report.failed.append((item.path, "\(error)"))
                    message("skipped \(item.path): \(error)")
                }
            }
            // Batches of pictures of one shape, per method.
            for group in Dictionary(grouping: ready.indices, by: { ready[$0].tensor.shape }).values {
                for job in jobs {
                    let members = group.filter { i in ready[i].jobs.contains { $0.spec.name == job.spec.name } }
                    guard !members.isEmpty else { continue }
                    let batch = try Tensor.concatenateBatches(members.map { ready[$0].tensor })
                    var request = CAMRequest(method: job.method, targetLayers: layers, targetFactory: targetFactory,
                                             categories: m.category.map { c in members.map { _ in c } } ?? [],
                                             targetOptions: m.targetOptions, reshape: reshape, reshapeOptions: reshapeOptions,
                                             options: CAMOptions(job.spec.options), eigenSmooth: job.spec.eigenSmooth, augSmooth: job.spec.augSmooth)
                    request.pictures = members.map { ready[$0].picture }
                    do {
                        let result = try explainer.explain(batch, request)
                        for w in result.warnings { message(w) }
                        for (k, i) in members.enumerated() {
                            try write(result, index: k, item: ready[i].item, picture: ready[i].picture, job: job, labels: labels, modelHash: modelHash, layers: layers)
                        }
                    } catch {
                        for i in members { report.failed.append((ready[i].item.path, "\(job.spec.name): \(error)")) }
                        message("\(job.spec.name) failed on \(members.map { ready[$0].item.path }.joined(separator: ", ")): \(error)")
                    }
                }
            }
            report.processed += ready.count
            done += chunk.count
            progress?.update(done: done, total: items.count, label: "run")
        }
        if m.outputs.gallery {
            report.gallery = try writeGallery(items: items, jobs: jobs, shard: shard ?? m.shard)
        }
        return report
    }

    /// The automatic target layer, found on the first picture's shape.
    func defaultLayers(_ model: Model, preprocessing: Preprocessing, items: [InputItem]) throws -> [String] {
        guard let sample = LayerDiscovery.sampleInput(model) else {
            throw CAMError(.usage, "\(manifest.file): $.targetLayers: no automatic default for this model's input; name the layers")
        }
        return [model.graph.name(of: try LayerDiscovery.defaultLayer(model, sample: sample))]
    }

    // MARK: Outputs

    /// `<dir>/<stem>_<method>`.
    func base(_ item: InputItem, _ job: Job) -> String {
        URL(fileURLWithPath: manifest.outputs.directory).appendingPathComponent("\(item.stem)_\(job.spec.name)").path
    }

    var overlayExtension: String? { manifest.outputs.overlay == "none" ? nil : manifest.outputs.overlay }

    func upToDate(_ item: InputItem, _ job: Job) -> Bool {
        let b = base(item, job)
        guard let data = FileContents.data(atPath: b + ".json"),
              let sidecar = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              sidecar["fingerprint"] as? String == job.fingerprint else { return false }
        if let ext = overlayExtension, !FileManager.default.fileExists(atPath: b + "." + ext) { return false }
        if manifest.outputs.npy && !FileManager.default.fileExists(atPath: b + ".npy") { return false }
        return true
    }

    func write(_ result: CAMResult, index k: Int, item: InputItem, picture: RGBImage, job: Job, labels: Labels?, modelHash: String, layers: [String]) throws {
        let b = base(item, job)
        let target = result.targets[k]
        let category = (target as? ClassifierOutputTarget)?.category ?? (target as? ClassifierOutputSoftmaxTarget)?.category
        let top = try topCategory(result.outputs.map { $0.batchItem(k) })
        var files: [(String, Data)] = []
        if let maps = result.maps {
            let map = maps.batchItem(k)
            if let ext = overlayExtension {
                let (h, w) = (map.shape[0], map.shape[1])
                let shown = picture.width == w && picture.height == h ? picture : try picture.resizeBilinearOpenCV(width: w, height: h)
                let image = try overlay(image: shown, cam: map.toFloats(), imageWeight: manifest.outputs.imageWeight, colormap: manifest.outputs.colormap)
                files.append((b + "." + ext, ext == "png" ? try image.pngData() : try image.jpegData()))
            }
            if manifest.outputs.npy { files.append((b + ".npy", NPY.encode(map))) }
        } else if let a = result.attribution {
            if let ext = overlayExtension {
                let image = try PixelAttribution.deprocess(a.batchItem(k))
                files.append((b + "." + ext, ext == "png" ? try image.pngData() : try image.jpegData()))
            }
            if manifest.outputs.npy { files.append((b + ".npy", NPY.encode(a.batchItem(k)))) }
        }
        var sidecar: [String: Any] = [
            "fingerprint": job.fingerprint, "swiftcam": SwiftCAMVersion.string, "input": item.path,
            "model": manifest.modelPath, "modelHash": modelHash, "method": job.spec.name, "options": job.spec.options,
            "eigenSmooth": job.spec.eigenSmooth, "augSmooth": job.spec.augSmooth, "targetLayers": layers,
            "target": target.description, "topClass": top,
        ]
        if let category { sidecar["category"] = category }
        if let name = category.flatMap({ labels?.name($0) }) { sidecar["categoryName"] = name }
        if let name = labels?.name(top) { sidecar["topClassName"] = name }
        // The sidecar last: its fingerprint marks the outputs complete.
        files.append((b + ".json", try JSONSerialization.data(withJSONObject: sidecar, options: [.prettyPrinted, .sortedKeys])))
        for (path, data) in files { try AtomicFile.write(data, to: path) }
    }

    func writeGallery(items: [InputItem], jobs: [Job], shard: (index: Int, count: Int)?) throws -> String {
        let dir = manifest.outputs.directory
        let name = shard.map { "index-\($0.index)-of-\($0.count).html" } ?? "index.html"
        let entries = items.map { item in
            Gallery.Entry(stem: item.stem, cells: jobs.map { job in
                let b = base(item, job)
                guard let data = FileContents.data(atPath: b + ".json"),
                      let side = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return (nil, "not made") }
                let caption = (side["categoryName"] as? String).map { "target: \($0)" } ?? (side["target"] as? String ?? "")
                let image = overlayExtension.map { "\(item.stem)_\(job.spec.name).\($0)" }
                return (image, caption)
            })
        }
        let html = Gallery.html(title: "SwiftCAM — \(URL(fileURLWithPath: manifest.modelPath).lastPathComponent)", methods: jobs.map(\.spec.name), entries: entries)
        let path = URL(fileURLWithPath: dir).appendingPathComponent(name).path
        try AtomicFile.write(Data(html.utf8), to: path)
        return path
    }
}
