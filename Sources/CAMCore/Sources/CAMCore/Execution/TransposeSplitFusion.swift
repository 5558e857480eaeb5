/// Vision transformers split attention's `qkv` projection with `Split(Transpose(Reshape(…)))`:
/// fused into one `TransposedSplit`, the transposed copy and the split's copy become one pass.
extension GraphOptimizer {
    /// Replaces `Split(Transpose(x))` by `TransposedSplit(x)` when the transposed tensor is
    /// read by the Split alone and is not protected or an output. The fused node takes the
    /// Split's place in the order.
    public static func fuseTransposeIntoSplits(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard let split = node.op as? Split, let t = node.inputs.first ?? nil, let p = use.foldableProducer(of: t) else { continue }
            let source = graph.nodes[p]
            guard let transpose = source.op as? Transpose, source.inputs.count == 1, let x = source.inputs[0] else { continue }
            nodes[i] = Node(name: node.name, op: TransposedSplit(transpose: transpose, split: split),
                            inputs: [x] + node.inputs.dropFirst(), outputs: node.outputs)
            removed.insert(p)
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }
}
