/// Transformer exporters write each projection as `Add(MatMul(x, W), b)`: fused into one
/// `MatMulBias` (the GEMM accumulates onto the bias), two passes over the output are saved.
extension GraphOptimizer {
    /// Replaces `Add(MatMul(A, W), bias)` (either operand order) by `MatMulBias(A, W, bias)` when
    /// W is a constant matrix (k × n), bias a constant of n values (shape [n] or [1, …, 1, n]),
    /// and the product is not protected, an output, or read elsewhere.
    public static func fuseMatMulBias(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        fuseIntoAdds(graph, protected: protected) { mm, biasID in
            guard let op = mm.op as? MatMul, !op.transposeA, !op.transposeB, mm.inputs.count == 2,
                  let a = mm.inputs[0], let w = mm.inputs[1], let weights = graph.constants[w], weights.rank == 2,
                  weights.dtype == .float32, let bias = graph.constants[biasID], bias.dtype == .float32,
                  bias.rank >= 1, bias.shape.last == weights.shape[1], bias.count == weights.shape[1] else { return nil }
            return (MatMulBias(), [a, w, biasID])
        }
    }

    /// Replaces `Add(MatMulBias(A, W, b), R)` (either operand order) by
    /// `MatMul+Bias+Add(A, W, b, R)` when R is not a constant and the product is not protected,
    /// an output, or read elsewhere: the transformer's residual connections. The fused node
    /// takes the Add's place in the order, where R is computed.
    public static func fuseMatMulBiasResiduals(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        fuseIntoAdds(graph, protected: protected) { mm, residual in
            guard graph.constants[residual] == nil, let op = mm.op as? MatMulBias, !op.addsResidual, !op.appliesGELU,
                  mm.inputs.count == 3 else { return nil }
            return (MatMulBias(addsResidual: true), mm.inputs + [residual])
        }
    }

    /// Replaces `Gelu(MatMulBias(…))` (the exact GELU) by one `MatMulBias` that applies it, when
    /// the projection is not protected, an output, or read elsewhere: a transformer MLP's first
    /// layer. The fused node takes the Gelu's place in the order.
    public static func fuseGELUIntoProjections(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard (node.op as? Unary)?.function == .gelu, node.inputs.count == 1, let x = node.inputs[0],
                  let p = use.foldableProducer(of: x) else { continue }
            let mm = graph.nodes[p]
            guard let op = mm.op as? MatMulBias, !op.appliesGELU else { continue }
            nodes[i] = Node(name: node.name, op: MatMulBias(addsResidual: op.addsResidual, appliesGELU: true), inputs: mm.inputs,
                            outputs: node.outputs)
            removed.insert(p)
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }
}
