/// Rewrites that make a graph cheaper to run without changing any value that is still
/// produced. Values in `protected` (outputs, target layers, anything a caller will read) are
/// never fused away.
public enum GraphOptimizer {
    /// Fuses `Relu` and constant-bound `Clip` into the `Conv` that feeds them, when the
    /// convolution's own output has no other reader and is not protected.
    public static func fuseActivations(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        var readers = [Int](repeating: 0, count: graph.valueCount)
        for node in graph.nodes { for v in node.inputs.compactMap({ $0 }) { readers[v.index] += 1 } }
        var producer = [Int](repeating: -1, count: graph.valueCount)
        for (i, node) in graph.nodes.enumerated() { for o in node.outputs { producer[o.index] = i } }

        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard let x = node.inputs.first ?? nil, readers[x.index] == 1, !protected.contains(x),
                  !graph.outputs.contains(x), producer[x.index] >= 0,
                  let conv = nodes[producer[x.index]].op as? Convolution, conv.activation == nil else { continue }
            let activation: Convolution.Activation
            if let u = node.op as? Unary, u.function == .relu {
                activation = .relu
            } else if node.op is Clip, let bounds = constantBounds(node, graph) {
                activation = .clip(bounds.0, bounds.1)
            } else {
                continue
            }
            let p = producer[x.index]
            nodes[p] = Node(name: nodes[p].name, op: conv.fused(activation), inputs: nodes[p].inputs, outputs: node.outputs)
            removed.insert(i)
        }
        var g = graph
        g.nodes = nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }

    /// The (min, max) of a Clip whose bounds are constants.
    static func constantBounds(_ node: Node, _ graph: Graph) -> (Float, Float)? {
        func bound(_ i: Int, _ dflt: Float) -> Float? {
            guard i < node.inputs.count, let v = node.inputs[i] else { return dflt }
            guard let t = graph.constants[v], t.count == 1 else { return nil }
            return t.toFloats()[0]
        }
        guard let lo = bound(1, -.infinity), let hi = bound(2, .infinity) else { return nil }
        return (lo, hi)
    }
}
