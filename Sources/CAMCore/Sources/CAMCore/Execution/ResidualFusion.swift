/// Residual networks end each block with `Add(Conv(…), shortcut)` (and a ReLU after it in
/// ResNets): fused into the convolution, which adds the shortcut to each output plane while
/// it is in cache, so the separate passes of the Add (and, fused next, of the ReLU) are saved.
extension GraphOptimizer {
    /// Replaces `Add(Conv(x, W, B?), R)` (either operand order) by `Conv+Add(x, W, B?, R)` when
    /// the convolution is a dense one (group 1) with nothing fused yet, R is not a constant,
    /// and the convolution's output is not protected, an output, or read elsewhere. The fused
    /// node takes the Add's place in the order, where R is computed.
    public static func fuseResidualAdds(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let (readers, producer) = usage(graph)
        let outputs = Set(graph.outputs)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard (node.op as? Binary)?.kind == .add, node.inputs.count == 2, let p = node.inputs[0], let q = node.inputs[1], p != q else { continue }
            for (convolved, residual) in [(p, q), (q, p)] {
                guard readers[convolved.index] == 1, !protected.contains(convolved), !outputs.contains(convolved),
                      graph.constants[residual] == nil, producer[convolved.index] >= 0,
                      !removed.contains(producer[convolved.index]) else { continue }
                let convNode = graph.nodes[producer[convolved.index]]
                guard let conv = convNode.op as? Convolution, conv.group == 1, conv.activation == nil, !conv.addsResidual,
                      convNode.inputs.count >= 2, convNode.inputs.count <= 3 else { continue }
                let bias: ValueID? = convNode.inputs.count == 3 ? convNode.inputs[2] : nil
                nodes[i] = Node(name: node.name, op: conv.addingResidual(), inputs: [convNode.inputs[0], convNode.inputs[1], bias, residual],
                                outputs: node.outputs)
                removed.insert(producer[convolved.index])
                break
            }
        }
        guard !removed.isEmpty else { return graph }
        var g = graph
        g.nodes = nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }
}
