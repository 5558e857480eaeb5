/// Finds the tensors a CAM can be computed on, and the one to use when none is named: the
/// last spatial map before the model pools it away (a global pooling, a spatial mean, or a
/// flatten of a feature map) — Grad-CAM's usual choice.
public enum LayerDiscovery {
    public struct Candidate: Sendable {
        public let id: ValueID
        public let name: String
        public let shape: [Int]
        /// (N, C, h, w) maps, or (N, tokens, C) transformer token tensors.
        public let isTokens: Bool
    }

    /// A one-image zero batch at the declared input size (224×224 when not declared).
    public static func sampleInput(_ model: Model) -> Tensor? {
        guard let shape = model.graph.values[model.graph.inputs[0].index].shape, shape.count == 4 else { return nil }
        let (h, w) = model.declaredInputSize ?? (224, 224)
        let channels = model.inputLayout == .nhwc ? shape[3] : shape[1]
        guard let c = channels else { return nil }
        return Tensor(zeros: model.inputLayout == .nhwc ? [1, h, w, c] : [1, c, h, w])
    }

    /// Every node output that is a spatial map or a token tensor, in graph order, with its shape
    /// on `sample`.
    public static func candidates(_ model: Model, sample: Tensor) throws -> [Candidate] {
        let g = model.graph
        let order = try Autodiff.topologicalOrder(g)
        let values = order.flatMap { g.nodes[$0].outputs }
        let tensors = try model.evaluate([sample], fetch: values)
        return zip(values, tensors).compactMap { v, t in
            guard t.dtype == .float32 else { return nil }
            if t.rank == 4 && t.shape[2] > 1 && t.shape[3] > 1 { return Candidate(id: v, name: g.name(of: v), shape: t.shape, isTokens: false) }
            if t.rank == 3 && t.shape[1] > 1 && t.shape[2] > 1 { return Candidate(id: v, name: g.name(of: v), shape: t.shape, isTokens: true) }
            return nil
        }
    }

    /// The default target layer: the input of the last node that pools a spatial map away.
    public static func defaultLayer(_ model: Model, sample: Tensor) throws -> ValueID {
        let g = model.graph
        let spatial = Set(try candidates(model, sample: sample).filter { !$0.isTokens }.map(\.id))
        let order = try Autodiff.topologicalOrder(g)
        var choice: ValueID?
        for i in order {
            let node = g.nodes[i]
            guard let x = node.inputs.first ?? nil, spatial.contains(x) else { continue }
            let pools = node.op is GlobalPool || node.op is Flatten || node.op is Reshape || (node.op as? Reduce).map { $0.kind == .mean || $0.kind == .max } == true
            if pools, !node.outputs.contains(where: spatial.contains) { choice = x }
        }
        guard let choice else {
            throw CAMError(.usage, "no default target layer found (no spatial map is pooled away in this model); name one with --target-layer — `swiftcam layers` lists them")
        }
        return choice
    }
}
