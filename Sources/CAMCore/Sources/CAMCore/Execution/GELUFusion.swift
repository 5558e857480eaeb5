/// Exporters write the exact GELU of transformer MLPs (`nn.GELU()`) as five elementwise nodes:
/// `0.5 · x · (1 + erf(x / √2))`. Fusing them into one `Gelu` (whose first and second
/// derivatives are known) saves four passes over the largest activations of the block.
extension GraphOptimizer {
    /// Replaces `Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)` — and its commuted forms, with
    /// `Mul(x, 1/√2)` for the division and the 0.5 applied to either factor — by `Gelu(x)`,
    /// when none of the intermediate values is protected, a graph output, or read elsewhere.
    public static func fuseErfGELU(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)

        func scalar(_ v: ValueID?) -> Float? {
            guard let v, let t = graph.constants[v], t.count == 1, t.dtype == .float32 else { return nil }
            return t.floats[0]
        }
        func near(_ a: Float?, _ b: Float) -> Bool { a.map { abs($0 - b) <= 1e-6 * abs(b) } ?? false }
        /// The node producing `v`, if it may be removed (one reader, not protected or an output).
        func internalProducer(_ v: ValueID) -> Int? { use.foldableProducer(of: v) }
        func binary(_ i: Int, _ kind: Binary.Kind) -> (ValueID, ValueID)? {
            let n = graph.nodes[i]
            guard (n.op as? Binary)?.kind == kind, n.inputs.count == 2, let a = n.inputs[0], let b = n.inputs[1] else { return nil }
            return (a, b)
        }
        /// `v` = 1 + erf(x/√2): returns x and the nodes that compute `v`.
        func onePlusErf(_ v: ValueID) -> (x: ValueID, nodes: [Int])? {
            guard let add = internalProducer(v), let (p, q) = binary(add, .add) else { return nil }
            let erfValue: ValueID
            if near(scalar(p), 1) { erfValue = q } else if near(scalar(q), 1) { erfValue = p } else { return nil }
            guard let erf = internalProducer(erfValue), (graph.nodes[erf].op as? Unary)?.function == .erf,
                  let scaled = graph.nodes[erf].inputs.first ?? nil, let scale = internalProducer(scaled) else { return nil }
            if let (x, c) = binary(scale, .div), near(scalar(c), 1.41421356) { return (x, [add, erf, scale]) }
            if let (a, b) = binary(scale, .mul) {
                if near(scalar(b), 0.70710678) { return (a, [add, erf, scale]) }
                if near(scalar(a), 0.70710678) { return (b, [add, erf, scale]) }
            }
            return nil
        }
        /// `v` = 0.5 · x: returns x and the node.
        func half(_ v: ValueID) -> (x: ValueID, node: Int)? {
            guard let m = internalProducer(v), let (a, b) = binary(m, .mul) else { return nil }
            if near(scalar(b), 0.5) { return (a, m) }
            if near(scalar(a), 0.5) { return (b, m) }
            return nil
        }
        /// y = Mul(l, r) with {l, r} = {x, 1 + erf(x/√2)}: returns x and the nodes.
        func product(_ l: ValueID, _ r: ValueID, halfOn xSide: Bool) -> (x: ValueID, nodes: [Int])? {
            for (xs, erfSide) in [(l, r), (r, l)] {
                guard let (x, nodes) = onePlusErf(erfSide) else { continue }
                if !xSide && xs == x { return (x, nodes) }
                if xSide, let (hx, h) = half(xs), hx == x { return (x, nodes + [h]) }
            }
            return nil
        }

        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() where !removed.contains(i) {
            guard let (a, b) = binary(i, .mul) else { continue }
            var match: (x: ValueID, nodes: [Int])?
            // 0.5 applied last: Mul(Mul(x, 1 + erf), 0.5).
            for (inner, c) in [(a, b), (b, a)] where match == nil && near(scalar(c), 0.5) {
                if let m = internalProducer(inner), let (l, r) = binary(m, .mul), let found = product(l, r, halfOn: false) {
                    match = (found.x, found.nodes + [m])
                }
            }
            // 0.5 applied to x first: Mul(Mul(x, 0.5), 1 + erf).
            if match == nil { match = product(a, b, halfOn: true) }
            guard let (x, fused) = match, fused.allSatisfy({ !removed.contains($0) }) else { continue }
            nodes[i] = Node(name: node.name, op: Unary(.gelu), inputs: [x], outputs: node.outputs)
            removed.formUnion(fused)
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }
}
