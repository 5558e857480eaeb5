import Foundation

/// Runs only the part of a model after one tensor, for many replacement values of it
/// (AblationCAM: one batch of ablated activations after another).
///
/// The graph after the layer may also read values computed before it that do not depend on it
/// (a residual branch): that *frontier* is computed once per batch of images, from the real
/// input, and each image's rows are repeated for the replacement batches. Integer frontier
/// values are shape arithmetic (they may encode the batch size): they are computed once per
/// replacement batch size. Nothing else before the layer runs again.
public final class SuffixRunner: @unchecked Sendable {
    public let model: Model
    public let layer: ValueID
    /// Float values computed before the layer that the suffix reads.
    public let dataFrontier: [ValueID]
    /// Integer (shape) values computed before the layer that the suffix reads.
    public let shapeFrontier: [ValueID]
    let executor: Executor
    let schedule: Executor.Schedule
    private var shapeValues: [Int: [Tensor]] = [:]
    private let lock = NSLock()

    public init(model: Model, layer: ValueID, sample input: Tensor) throws {
        self.model = model
        self.layer = layer
        let graph = model.graph
        executor = try model.executor(protecting: [layer])
        let g = executor.graph
        var dependent: Set<ValueID> = [layer]
        for i in try Autodiff.topologicalOrder(g) where g.nodes[i].inputs.contains(where: { $0.map(dependent.contains) == true }) {
            dependent.formUnion(g.nodes[i].outputs)
        }
        let full = try executor.schedule(for: graph.outputs, known: Set(graph.inputs))
        var frontier = Set<ValueID>()
        for n in full.nodes where g.nodes[n].outputs.contains(where: dependent.contains) && !g.nodes[n].outputs.contains(layer) {
            for v in g.nodes[n].inputs.compactMap({ $0 }) where !dependent.contains(v) && g.constants[v] == nil { frontier.insert(v) }
        }
        for out in graph.outputs where !dependent.contains(out) { frontier.insert(out) }
        let sorted = frontier.sorted()
        // Tell data from shape values by their dtype on the sample.
        let values = sorted.isEmpty ? [] : try model.evaluate([input.batchSlice(0..<1)], fetch: sorted)
        dataFrontier = zip(sorted, values).filter { $0.1.dtype == .float32 }.map(\.0)
        shapeFrontier = zip(sorted, values).filter { $0.1.dtype != .float32 }.map(\.0)
        schedule = try executor.schedule(for: graph.outputs, known: frontier.union([layer]))
    }

    /// The data frontier for a batch of images (run once per batch).
    public func frontierValues(input: Tensor) throws -> [Tensor] {
        dataFrontier.isEmpty ? [] : try model.evaluate([input], fetch: dataFrontier)
    }

    /// The model's outputs when the layer takes `value` (B rows, all for image `image` of the
    /// batch whose frontier is `frontier`).
    public func outputs(layerValue value: Tensor, image: Int, frontier: [Tensor], input: Tensor) throws -> [Tensor] {
        let rows = value.shape[0]
        var store = ValueStore(valueCount: executor.graph.valueCount)
        store[layer] = value
        for (v, t) in zip(dataFrontier, frontier) {
            store[v] = try Tensor.repeatRows(t.batchItem(image), count: rows)
        }
        for (v, t) in zip(shapeFrontier, try shapeValues(rows: rows, input: input)) { store[v] = t }
        try executor.run(schedule, &store, retain: Set(model.graph.outputs))
        return model.graph.outputs.map { store[$0] ?? executor.graph.constants[$0]! }
    }

    /// Shape-arithmetic frontier values for a replacement batch of `rows`, computed once per size.
    func shapeValues(rows: Int, input: Tensor) throws -> [Tensor] {
        if shapeFrontier.isEmpty { return [] }
        lock.lock()
        if let cached = shapeValues[rows] { lock.unlock(); return cached }
        lock.unlock()
        let values = try model.evaluate([try Tensor.repeatRows(input.batchItem(0), count: rows)], fetch: shapeFrontier)
        lock.lock()
        shapeValues[rows] = values
        lock.unlock()
        return values
    }
}
