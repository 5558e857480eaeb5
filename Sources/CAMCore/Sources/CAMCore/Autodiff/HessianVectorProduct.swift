/// Gradients and Hessian–vector products of the targets at some layers, from one graph:
/// the model, the targets written as graph nodes (`GraphTarget`), differentiated once for
/// G = ∂L/∂A and again for H·A = ∂⟨G, A⟩/∂A (with the A in the product held constant) —
/// ShapleyCAM's second-order term. Everything after the layers is differentiated twice; the
/// model is run once.
public struct SecondOrderResult: Sendable {
    public let outputs: [Tensor]
    /// Per layer: its value, ∂L/∂A and H·A.
    public let values: [Tensor]
    public let gradients: [Tensor]
    public let hessianVectorProducts: [Tensor]
}

public enum HessianVectorProduct {
    public static func compute(model: Model, input: Tensor, layers: [ValueID], targets: [any GraphTarget]) throws -> SecondOrderResult {
        let n = input.shape[0]
        guard targets.count == n else { throw CAMError(.runtime, "\(targets.count) targets for \(n) images") }
        var graph = GraphOptimizer.optimize(model.graph, protected: Set(layers).union(model.graph.outputs))
        var b = GradientBuilder(graph: graph)
        // L = Σ_i target_i(outputs[i]).
        var total: ValueID?
        for (i, target) in targets.enumerated() {
            let index = b.constant(Tensor(shape: [], int64s: [Int64(i)]))
            let rows = model.graph.outputs.map { b.apply(Gather(axis: 0), $0, index) }
            total = b.add(total, try target.score(&b, outputs: rows))
        }
        graph = b.graph
        let loss = total!
        let first = try Autodiff.differentiate(graph, outputs: [loss], wrt: layers)
        // S = Σ_k Σ G_k ⊙ stop(A_k); differentiate again.
        b = GradientBuilder(graph: first.graph)
        var s: ValueID?
        var grads: [ValueID] = []
        for (k, layer) in layers.enumerated() {
            let g = first.gradients[k] ?? b.apply(ZerosLike(), layer)
            grads.append(g)
            let product = b.mul(g, b.apply(StopGradient(), layer))
            s = b.add(s, b.apply(Reduce(.sum, keepDims: false), [product], outputs: 1)[0])
        }
        let secondGraph = b.graph
        let second = try Autodiff.differentiate(secondGraph, outputs: [s!], wrt: layers)
        let executor = try Executor(second.graph)
        var feeds: [ValueID: Tensor] = [model.graph.inputs[0]: input]
        feeds[first.seeds[0]] = Tensor(repeating: 1, shape: [1])
        feeds[second.seeds[0]] = Tensor(scalar: 1)
        let hvps = layers.indices.map { second.gradients[$0] }
        var fetch = model.graph.outputs + layers + grads
        fetch += hvps.compactMap { $0 }
        let values = try executor.evaluate(feeds, fetch: fetch)
        let o = model.graph.outputs.count, l = layers.count
        var h = values[(o + 2 * l)...].makeIterator()
        return SecondOrderResult(outputs: Array(values[0..<o]), values: Array(values[o..<(o + l)]),
                                 gradients: Array(values[(o + l)..<(o + 2 * l)]),
                                 hessianVectorProducts: zip(hvps, values[o..<(o + l)]).map { hvp, a in hvp != nil ? h.next()! : Tensor(zeros: a.shape) })
    }
}
