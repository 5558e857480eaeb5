/// Attention as timm exports it scales q and kᵀ by √scale each and transposes k, three passes
/// over memory before `MatMul(q', kᵀ')`: folded into the product as one `ScaledMatMul`.
extension GraphOptimizer {
    /// Replaces `MatMul(x, y)` by `ScaledMatMul` when x is a `Mul`, or y is a `Mul`, a
    /// `Transpose` of its last two axes, or a `Mul` of such a transpose, and each folded value
    /// is read by that product alone and is not protected or an output. The fused node takes
    /// the MatMul's place in the order.
    public static func fuseScalesIntoMatMuls(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var removed = Set<Int>()

        /// The node producing `v` when it may be folded away, and is not folded already.
        func foldable(_ v: ValueID) -> Int? {
            guard let p = use.foldableProducer(of: v), !removed.contains(p) else { return nil }
            return p
        }
        func scaling(_ v: ValueID) -> Int? {
            guard let p = foldable(v), (graph.nodes[p].op as? Binary)?.kind == .mul, graph.nodes[p].inputs.count == 2,
                  graph.nodes[p].inputs.allSatisfy({ $0 != nil }) else { return nil }
            return p
        }
        func lastAxesSwap(_ v: ValueID) -> Int? {
            guard let p = foldable(v), let t = graph.nodes[p].op as? Transpose, graph.nodes[p].inputs.count == 1,
                  graph.nodes[p].inputs[0] != nil, isLastAxesSwap(t.perm) else { return nil }
            return p
        }

        var nodes = graph.nodes
        for (i, node) in graph.nodes.enumerated() {
            guard let mm = node.op as? MatMul, !mm.transposeA, !mm.transposeB, node.inputs.count == 2,
                  let x = node.inputs[0], let y = node.inputs[1], x != y else { continue }
            var fold: [Int] = []
            var (a, sa): (ValueID?, ValueID?) = (x, nil)
            if let p = scaling(x) {
                (a, sa) = (graph.nodes[p].inputs[0], graph.nodes[p].inputs[1])
                fold.append(p)
            }
            var (b, sb): (ValueID?, ValueID?) = (y, nil)
            var transpose: Transpose?
            if let p = scaling(y) {
                let operands = graph.nodes[p].inputs.compactMap { $0 }
                if let t = lastAxesSwap(operands[0]) ?? (operands[0] != operands[1] ? lastAxesSwap(operands[1]) : nil) {
                    let swapped = graph.nodes[t].outputs[0]
                    transpose = graph.nodes[t].op as? Transpose
                    (b, sb) = (graph.nodes[t].inputs[0], swapped == operands[0] ? operands[1] : operands[0])
                    fold += [p, t]
                } else {
                    (b, sb) = (operands[0], operands[1])
                    fold.append(p)
                }
            } else if let t = lastAxesSwap(y) {
                transpose = graph.nodes[t].op as? Transpose
                b = graph.nodes[t].inputs[0]
                fold.append(t)
            }
            guard !fold.isEmpty else { continue }
            nodes[i] = Node(name: node.name, op: ScaledMatMul(scalesLeft: sa != nil, scalesRight: sb != nil, transpose: transpose),
                            inputs: [a, b, sa, sb], outputs: node.outputs)
            removed.formUnion(fold)
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }

    /// Whether `perm` swaps the last two axes and keeps the others in place.
    static func isLastAxesSwap(_ perm: [Int]) -> Bool {
        let r = perm.count
        return r >= 2 && perm == Array(0..<(r - 2)) + [r - 1, r - 2]
    }
}
