/// Transformer exporters write each projection as `Add(MatMul(x, W), b)`: fused into one
/// `MatMulBias` (the GEMM accumulates onto the bias), two passes over the output are saved.
extension GraphOptimizer {
    /// Replaces `Add(MatMul(A, W), bias)` (either operand order) by `MatMulBias(A, W, bias)` when
    /// W is a constant matrix (k × n), bias a constant of n values (shape [n] or [1, …, 1, n]),
    /// and the product is not protected, an output, or read elsewhere.
    public static func fuseMatMulBias(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let (readers, producer) = usage(graph)
        let outputs = Set(graph.outputs)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard (node.op as? Binary)?.kind == .add, node.inputs.count == 2, let p = node.inputs[0], let q = node.inputs[1] else { continue }
            for (product, biasID) in [(p, q), (q, p)] {
                guard readers[product.index] == 1, !protected.contains(product), !outputs.contains(product),
                      producer[product.index] >= 0, !removed.contains(producer[product.index]) else { continue }
                let mm = graph.nodes[producer[product.index]]
                guard let op = mm.op as? MatMul, !op.transposeA, !op.transposeB, mm.inputs.count == 2,
                      let a = mm.inputs[0], let w = mm.inputs[1], let weights = graph.constants[w], weights.rank == 2,
                      weights.dtype == .float32, let bias = graph.constants[biasID], bias.dtype == .float32,
                      bias.rank >= 1, bias.shape.last == weights.shape[1], bias.count == weights.shape[1] else { continue }
                nodes[i] = Node(name: node.name, op: MatMulBias(), inputs: [a, w, biasID], outputs: node.outputs)
                removed.insert(producer[product.index])
                break
            }
        }
        guard !removed.isEmpty else { return graph }
        var g = graph
        g.nodes = nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }
}
