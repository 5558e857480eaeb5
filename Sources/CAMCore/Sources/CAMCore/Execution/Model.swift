import Foundation

/// A loaded model ready to run: its graph (constants folded), an executor, and the names of
/// its inputs and outputs.
///
/// ```swift
/// let model = try Model.load(path: "resnet18.onnx")
/// let logits = try model.predict(input)[0]
/// ```
public final class Model: @unchecked Sendable {
    /// The graph as loaded (constants folded): every tensor of the model, by name.
    public let graph: Graph
    /// Where the model came from (a file path), for messages.
    public let source: String
    private var gradientPrograms: [String: GradientProgram] = [:]
    private var executors: [Set<ValueID>: Executor] = [:]
    private let lock = NSLock()

    /// Notes about the model found while loading (e.g. weights that are NaN or infinite).
    public private(set) var loadWarnings: [String] = []

    /// Wraps a graph produced by a loader: checks every operator's attributes, folds constant
    /// sub-graphs, checks the structure, and notes NaN or infinite weights.
    public init(graph: Graph, source: String) throws {
        var g = graph
        for node in g.nodes {
            do { try node.op.validate() } catch let e as CAMError {
                throw CAMError(e.kind, "\(source): \(node.label): \(e.message)")
            }
        }
        guard !g.outputs.isEmpty else { throw CAMError(.invalidModel, "\(source): the model has no outputs") }
        try ConstantFolding.fold(&g)
        self.graph = g
        self.source = source
        for (id, t) in g.constants.sorted(by: { $0.key < $1.key }) where t.dtype == .float32 {
            let bad = t.floats.filter { !$0.isFinite }.count
            if bad > 0 { loadWarnings.append("\(source): weight '\(g.name(of: id))' has \(bad) NaN or infinite value(s) of \(t.count)") }
        }
        _ = try executor(protecting: Set(g.outputs)).schedule(for: g.outputs, known: Set(g.inputs))
    }

    /// An executor for the graph optimised so that every value in `protected` is still
    /// computed (cached per set).
    public func executor(protecting protected: Set<ValueID>) throws -> Executor {
        lock.lock()
        defer { lock.unlock() }
        if let e = executors[protected] { return e }
        let e = try Executor(GraphOptimizer.optimize(graph, protected: protected.union(graph.outputs)))
        executors[protected] = e
        return e
    }

    /// Loads a model file with the loader that claims it (by content, then by extension).
    public static func load(path: String, loader name: String? = nil, registry: PluginRegistry = .shared) throws -> Model {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CAMError(.io, "\(path): no such file")
        }
        let loader: any ModelLoader
        if let name {
            guard let l = registry.loader(named: name) else {
                throw CAMError(.usage, "no plugin provides the model loader '\(name)' (loaded: \(registry.loaders.map(\.name).joined(separator: ", ")))")
            }
            loader = l
        } else {
            var header = [UInt8]()
            if let h = FileHandle(forReadingAtPath: path) {
                header = [UInt8](h.readData(ofLength: 64))
                try? h.close()
            }
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            let loaders = registry.loaders
            guard let l = loaders.first(where: { $0.recognizes(header: header) }) ?? loaders.first(where: { $0.fileExtensions.contains(ext) }) else {
                throw CAMError(.usage, "\(path): no loaded plugin reads this kind of file"
                    + (loaders.isEmpty ? " (no model loader plugins are loaded; see `swiftcam plugins`)" : " (loaders: \(loaders.map(\.name).joined(separator: ", ")))"))
            }
            loader = l
        }
        return try Model(graph: try loader.load(path: path), source: path)
    }

    public var inputNames: [String] { graph.inputs.map(graph.name(of:)) }
    public var outputNames: [String] { graph.outputs.map(graph.name(of:)) }

    /// Checks a batch against the declared input: rank, dtype and every fixed dimension.
    public func validate(input: Tensor, at index: Int = 0) throws { try graph.validate(input: input, at: index) }

    /// The image layout of the first input (NCHW unless the loader said otherwise).
    public var inputLayout: Graph.ImageLayout { graph.inputLayout }

    /// The declared spatial size (height, width) of a 4-D image input, if fixed.
    public var declaredInputSize: (height: Int, width: Int)? {
        guard let shape = graph.values[graph.inputs[0].index].shape, shape.count == 4 else { return nil }
        let (h, w) = inputLayout == .nhwc ? (shape[1], shape[2]) : (shape[2], shape[3])
        guard let h, let w else { return nil }
        return (h, w)
    }

    /// The spatial size (height, width) of an image batch laid out as this model's input.
    public func imageSize(of batch: Tensor) -> (height: Int, width: Int) {
        inputLayout == .nhwc ? (batch.shape[1], batch.shape[2]) : (batch.shape[batch.rank - 2], batch.shape[batch.rank - 1])
    }

    /// Feeds for the graph inputs, checking there is one tensor per input.
    func feeds(_ inputs: [Tensor]) throws -> [ValueID: Tensor] { try graph.feeds(inputs) }

    /// Runs the model; returns every graph output.
    public func predict(_ inputs: [Tensor]) throws -> [Tensor] {
        try executor(protecting: Set(graph.outputs)).evaluate(try feeds(inputs), fetch: graph.outputs)
    }

    /// Runs the model on one input tensor.
    public func predict(_ input: Tensor) throws -> [Tensor] { try predict([input]) }

    /// Computes graph outputs plus the named intermediate values.
    public func evaluate(_ inputs: [Tensor], fetch: [ValueID]) throws -> [Tensor] {
        try executor(protecting: Set(fetch)).evaluate(try feeds(inputs), fetch: fetch)
    }

    /// Computes `fetch` from values given for some tensors inside the graph (the part of the
    /// graph that does not depend on anything else is not run): e.g. everything after a layer
    /// whose activations are replaced.
    public func evaluate(from values: [ValueID: Tensor], fetch: [ValueID]) throws -> [Tensor] {
        try executor(protecting: Set(fetch).union(values.keys)).evaluate(values, fetch: fetch)
    }

    /// The (cached) program computing gradients of `outputs` with respect to `wrt`.
    public func gradientProgram(outputs: [ValueID], wrt: [ValueID], capture: [ValueID] = [], rules: GradientRules = .standard) throws -> GradientProgram {
        let key = "\(outputs)|\(wrt)|\(capture)|\(rules)"
        lock.lock()
        if let p = gradientPrograms[key] { lock.unlock(); return p }
        lock.unlock()
        let p = try GradientProgram(model: self, outputs: outputs, wrt: wrt, capture: capture, rules: rules)
        lock.lock()
        gradientPrograms[key] = p
        lock.unlock()
        return p
    }
}
