/// The least rank each value of a graph can have, from what the graph itself states: the ranks
/// of its constants and the declared ranks of its inputs, carried through the operators whose
/// output has at least the rank of their inputs (broadcasting arithmetic, layer normalisation,
/// projections, elementwise functions). 0 where nothing is known. `GraphOptimizer.selectRowsEarly`
/// asks it whether a `Gather` picks tokens (rows) rather than features.
struct RankBounds {
    private var least: [Int]

    init(_ graph: Graph) {
        var least = [Int](repeating: 0, count: graph.valueCount)
        for (v, t) in graph.constants { least[v.index] = t.rank }
        for v in graph.inputs { least[v.index] = graph.values[v.index].shape?.count ?? 0 }
        for node in graph.nodes {
            func bound(_ i: Int) -> Int { i < node.inputs.count ? node.inputs[i].map { least[$0.index] } ?? 0 : 0 }
            let rank: Int
            switch node.op {
            case is Binary: rank = Swift.max(bound(0), bound(1))
            case is LayerNormalization, is Unary: rank = bound(0)
            case let p as MatMulBias: rank = p.addsResidual ? Swift.max(bound(0), bound(3)) : bound(0)
            default: rank = 0
            }
            if let out = node.outputs.first { least[out.index] = Swift.max(least[out.index], rank) }
        }
        self.least = least
    }

    /// The least rank of `v`.
    subscript(_ v: ValueID) -> Int { least[v.index] }
}
