/// Attention's scores, their softmax and the product with V, three operators whose n × n
/// intermediate values go to memory and back (7.4 MB per layer for DeiT-tiny at batch 16),
/// fused into one `Attention` node that keeps them in cache.
extension GraphOptimizer {
    /// Replaces `MatMul(Softmax(S), V)` by `Attention` when S is the output of a `ScaledMatMul`
    /// (as `fuseScalesIntoMatMuls` leaves it) or of a plain `MatMul`, the Softmax is not a
    /// LogSoftmax, and neither S nor the softmax's output is read by anything else, protected or
    /// an output (a CAM on the attention weights keeps them). The fused node takes the
    /// product's place in the order.
    public static func fuseAttention(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard let product = node.op as? MatMul, !product.transposeA, !product.transposeB, node.inputs.count == 2,
                  let weights = node.inputs[0], let v = node.inputs[1],
                  let normalising = use.foldableProducer(of: weights), !removed.contains(normalising),
                  let softmax = graph.nodes[normalising].op as? Softmax, !softmax.log,
                  let s = graph.nodes[normalising].inputs.first ?? nil,
                  let scoring = use.foldableProducer(of: s), !removed.contains(scoring),
                  let (scores, scoreInputs) = attentionScores(graph.nodes[scoring]) else { continue }
            nodes[i] = Node(name: node.name, op: Attention(scores: scores, softmaxAxis: softmax.axis),
                            inputs: [scoreInputs[0], scoreInputs[1], v, scoreInputs[2], scoreInputs[3]], outputs: node.outputs)
            removed.formUnion([normalising, scoring])
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }

    /// The scores node as a ScaledMatMul and its four inputs (q, k, q scale, k scale), or nil
    /// when it is neither a ScaledMatMul nor a MatMul without transposes.
    static func attentionScores(_ node: Node) -> (ScaledMatMul, [ValueID?])? {
        if let scaled = node.op as? ScaledMatMul, node.inputs.count == 4, node.inputs[0] != nil, node.inputs[1] != nil {
            return (scaled, node.inputs)
        }
        if let plain = node.op as? MatMul, !plain.transposeA, !plain.transposeB, node.inputs.count == 2,
           node.inputs[0] != nil, node.inputs[1] != nil {
            return (ScaledMatMul(scalesLeft: false, scalesRight: false, transpose: nil), node.inputs + [nil, nil])
        }
        return nil
    }
}
