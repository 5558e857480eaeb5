import Foundation

/// A run described in JSON (schema: `Schemas/pipeline.schema.json`): the model and its
/// preprocessing, target layers, reshape, methods with their options, target, inputs (files,
/// folders, globs), outputs, plugin paths and sharding. Relative paths resolve against the
/// manifest's folder; unknown keys are errors; every error names its JSON path.
public struct PipelineManifest: Sendable {
    public struct MethodSpec: Sendable {
        public var name: String
        public var options: [String: String]
        public var eigenSmooth: Bool
        public var augSmooth: Bool
    }

    public struct Outputs: Sendable {
        /// Where outputs go (mirroring the inputs' relative paths).
        public var directory: String
        /// "png", "jpg" or "none".
        public var overlay: String
        public var colormap: Colormap
        public var imageWeight: Double
        /// Also write each final map as `.npy`.
        public var npy: Bool
        /// Write an HTML gallery of the run.
        public var gallery: Bool
    }

    /// The manifest file (absolute).
    public var file: String
    public var modelPath: String
    public var loader: String?
    public var preprocessing: PreprocessingSettings
    public var layout: Graph.ImageLayout?
    public var labels: String?
    /// `nil`: the automatic default (the model card's, else the last spatial map before pooling).
    public var targetLayers: [String]?
    public var reshape: String?
    public var methods: [MethodSpec]
    public var target: String
    /// The same category for every image (`nil`: each image's top class).
    public var category: Int?
    public var targetOptions: [String: String]
    public var batchSize: Int
    public var threads: Int?
    /// Files, folders and globs, as written (resolved against the manifest's folder).
    public var inputs: [String]
    public var outputs: Outputs
    public var pluginPaths: [String]
    /// (index, count): this run takes the inputs whose position modulo count is index.
    public var shard: (index: Int, count: Int)?

    /// The manifest's folder.
    public var folder: String { URL(fileURLWithPath: file).deletingLastPathComponent().path }

    /// Resolves a path written in the manifest.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: folder).appendingPathComponent(path).standardized.path
    }

    public static func load(path: String) throws -> PipelineManifest {
        guard let data = FileContents.data(atPath: path) else { throw CAMError(.io, "\(path): cannot read the manifest") }
        let absolute = URL(fileURLWithPath: path).standardized.path
        return try decode(JSONReader.parse(data, file: path), file: absolute)
    }

    static func decode(_ root: JSONReader, file: String) throws -> PipelineManifest {
        let top = try root.object(allowed: ["$schema", "description", "model", "targetLayers", "reshape", "methods", "target",
                                            "batchSize", "threads", "inputs", "outputs", "plugins", "shard"])
        guard let modelReader = top["model"] else { throw CAMError(.usage, "\(file): $.model: missing (the model to run)") }
        let model = try modelReader.object(allowed: ["path", "loader", "size", "resize", "crop", "mean", "std", "scale", "channels", "layout", "labels"])
        guard let modelPath = try model["path"]?.string() else { throw CAMError(.usage, "\(file): $.model.path: missing") }

        func pair(_ r: JSONReader?) throws -> (height: Int, width: Int)? {
            guard let r else { return nil }
            let a = try r.array()
            guard a.count == 2 else { throw r.fail("[height, width]") }
            return (try a[0].integer(minimum: 1), try a[1].integer(minimum: 1))
        }
        func floats(_ r: JSONReader?) throws -> [Float]? {
            guard let r else { return nil }
            let v = try r.array().map { Float(try $0.number()) }
            guard v.count == 1 || v.count == 3 else { throw r.fail("one or three numbers") }
            return v
        }
        func choice(_ r: JSONReader?, _ options: [String]) throws -> String? {
            guard let r else { return nil }
            let s = try r.string()
            guard options.contains(s) else { throw r.fail(options.map { "\"\($0)\"" }.joined(separator: " or ")) }
            return s
        }
        var resize: String?
        if let r = model["resize"] {
            let s = try r.string()
            guard s == "plain" || s == "none" || (s.hasPrefix("shorter:") && Int(s.dropFirst(8)).map { $0 > 0 } == true) else {
                throw r.fail("\"plain\", \"none\" or \"shorter:N\"")
            }
            resize = s
        }
        let std = try floats(model["std"])
        if let std, std.contains(where: { $0 <= 0 }) { throw model["std"]!.fail("positive numbers") }
        let preprocessing = PreprocessingSettings(size: try pair(model["size"]), resize: resize, crop: try pair(model["crop"]),
                                                  mean: try floats(model["mean"]), std: std,
                                                  rawScale: try choice(model["scale"], ["unit", "raw"]).map { $0 == "raw" },
                                                  bgr: try choice(model["channels"], ["rgb", "bgr"]).map { $0 == "bgr" })

        var targetLayers: [String]?
        if let r = top["targetLayers"] {
            if (r.value as? String) == "auto" { targetLayers = nil } else {
                targetLayers = try r.strings()
                guard !targetLayers!.isEmpty else { throw r.fail("\"auto\" or at least one layer name") }
            }
        }

        guard let methodsReader = top["methods"] else { throw CAMError(.usage, "\(file): $.methods: missing (at least one method, e.g. [{\"name\": \"gradcam\"}])") }
        let methodItems = try methodsReader.array()
        guard !methodItems.isEmpty else { throw methodsReader.fail("at least one method") }
        let methods = try methodItems.map { item -> MethodSpec in
            if item.value is String { return MethodSpec(name: try item.string(), options: [:], eigenSmooth: false, augSmooth: false) }
            let m = try item.object(allowed: ["name", "options", "eigenSmooth", "augSmooth", "batchSize", "baseMethod"])
            guard let name = try m["name"]?.string() else { throw CAMError(.usage, "\(file): \(item.path).name: missing") }
            var options = try m["options"]?.stringMap() ?? [:]
            if let b = m["batchSize"] { options["batch-size"] = String(try b.integer(minimum: 1)) }
            if let b = m["baseMethod"] { options["base-method"] = try b.string() }
            return MethodSpec(name: name, options: options, eigenSmooth: try m["eigenSmooth"]?.bool() ?? false, augSmooth: try m["augSmooth"]?.bool() ?? false)
        }

        var target = "classifier", category: Int?, targetOptions: [String: String] = [:]
        if let t = top["target"] {
            if t.value is String { target = try t.string() } else {
                let o = try t.object(allowed: ["kind", "category", "options"])
                target = try o["kind"]?.string() ?? "classifier"
                category = try o["category"]?.integer(minimum: 0)
                targetOptions = try o["options"]?.stringMap() ?? [:]
            }
        }

        guard let inputsReader = top["inputs"] else { throw CAMError(.usage, "\(file): $.inputs: missing (files, folders or globs)") }
        let inputs = try inputsReader.strings()
        guard !inputs.isEmpty else { throw inputsReader.fail("at least one file, folder or glob") }

        let outputsReader = try top["outputs"]?.object(allowed: ["dir", "overlay", "colormap", "imageWeight", "npy", "gallery"]) ?? [:]
        guard let dir = try outputsReader["dir"]?.string() else { throw CAMError(.usage, "\(file): $.outputs.dir: missing (where to write)") }
        let colormapName = try outputsReader["colormap"]?.string() ?? "jet"
        guard let colormap = Colormap(rawValue: colormapName) else {
            throw outputsReader["colormap"]!.fail(Colormap.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
        }
        let imageWeight = try outputsReader["imageWeight"]?.number() ?? 0.5
        guard (0...1).contains(imageWeight) else { throw outputsReader["imageWeight"]!.fail("a number in [0, 1]") }

        var shard: (Int, Int)?
        if let s = top["shard"] { shard = try parseShard(try s.string(), reader: s) }

        var m = PipelineManifest(file: file, modelPath: "", loader: try model["loader"]?.string(), preprocessing: preprocessing,
                                 layout: try choice(model["layout"], ["nchw", "nhwc"]).flatMap(Graph.ImageLayout.init(rawValue:)),
                                 labels: nil, targetLayers: targetLayers, reshape: try top["reshape"]?.string(), methods: methods,
                                 target: target, category: category, targetOptions: targetOptions,
                                 batchSize: try top["batchSize"]?.integer(minimum: 1) ?? 8, threads: try top["threads"]?.integer(minimum: 1),
                                 inputs: inputs,
                                 outputs: Outputs(directory: "", overlay: try choice(outputsReader["overlay"], ["png", "jpg", "none"]) ?? "png",
                                                  colormap: colormap, imageWeight: imageWeight, npy: try outputsReader["npy"]?.bool() ?? false,
                                                  gallery: try outputsReader["gallery"]?.bool() ?? false),
                                 pluginPaths: try top["plugins"]?.strings() ?? [], shard: shard)
        if m.loader == "auto" { m.loader = nil }
        m.modelPath = m.resolve(modelPath)
        if let labels = try model["labels"]?.string() { m.labels = m.resolve(labels) }
        m.outputs.directory = m.resolve(dir)
        m.pluginPaths = m.pluginPaths.map { m.resolve($0) }
        return m
    }

    /// "i/N" with 0 ≤ i < N.
    public static func parseShard(_ text: String, reader: JSONReader? = nil) throws -> (index: Int, count: Int) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n > 0, i >= 0, i < n else {
            if let reader { throw reader.fail("\"i/N\" with 0 ≤ i < N") }
            throw CAMError(.usage, "--shard expects i/N with 0 ≤ i < N (e.g. 0/4), got '\(text)'")
        }
        return (i, n)
    }
}
