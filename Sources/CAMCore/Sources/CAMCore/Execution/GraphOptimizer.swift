/// Rewrites that make a graph cheaper to run without changing any value that is still
/// produced. Values in `protected` (outputs, target layers, anything a caller will read) are
/// never fused away.
public enum GraphOptimizer {
    /// All rewrites, in order.
    public static func optimize(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let projections = fuseMatMulBias(fuseErfGELU(graph, protected: protected), protected: protected)
        let residuals = fuseGELUIntoProjections(fuseMatMulBiasResiduals(projections, protected: protected), protected: protected)
        let scaled = fuseScalesIntoMatMuls(fuseTransposeIntoSplits(residuals, protected: protected), protected: protected)
        let transformer = readAttentionOperandsInPlace(fuseAttention(scaled, protected: protected), protected: protected)
        let convolutional = fuseResidualAdds(foldPaddingIntoConvolutions(transformer, protected: protected), protected: protected)
        return selectRowsEarly(fuseActivations(convolutional, protected: protected), protected: protected)
    }

    /// Folds a constant zero `Pad` of the spatial axes into the explicit padding of the `Conv`
    /// that reads it (exporters write TensorFlow's asymmetric "same" padding this way), when the
    /// padded tensor has no other reader and is not protected.
    public static func foldPaddingIntoConvolutions(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard let conv = node.op as? Convolution, conv.activation == nil, let padded = node.inputs.first ?? nil,
                  let padIndex = use.foldableProducer(of: padded) else { continue }
            let padNode = graph.nodes[padIndex]
            guard let pad = padNode.op as? Pad, pad.mode == .constant, let data = padNode.inputs.first ?? nil,
                  let amounts = spatialPads(padNode, graph) else { continue }
            let spatial = amounts.count / 2
            var existing: [Int]
            switch conv.padding {
            case .explicit(let p): existing = p.isEmpty ? [Int](repeating: 0, count: 2 * spatial) : p
            case .valid: existing = [Int](repeating: 0, count: 2 * spatial)
            default: continue
            }
            guard existing.count == amounts.count else { continue }
            let merged = zip(existing, amounts).map { $0 + $1 }
            let op = Convolution(strides: conv.strides, dilations: conv.dilations, padding: .explicit(merged), group: conv.group, kernelShape: conv.kernelShape)
            nodes[i] = Node(name: node.name, op: op, inputs: [data] + node.inputs.dropFirst(), outputs: node.outputs)
            removed.insert(padIndex)
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }

    /// For a Pad with constant pads (and constant zero value, default axes) that pads only the
    /// spatial axes of a rank-3/4 tensor by non-negative amounts: those amounts, ONNX-ordered
    /// (all begins, then all ends) over the spatial axes.
    static func spatialPads(_ node: Node, _ graph: Graph) -> [Int]? {
        guard node.inputs.count >= 2, let p = node.inputs[1], let pads = graph.constants[p], pads.dtype == .int64 else { return nil }
        if node.inputs.count > 2, let v = node.inputs[2] {
            guard let value = graph.constants[v], value.count == 1, value.toFloats()[0] == 0 else { return nil }
        }
        if node.inputs.count > 3, node.inputs[3] != nil { return nil }
        let all = pads.toInt64s().map(Int.init)
        let rank = all.count / 2
        guard rank == 3 || rank == 4, all.allSatisfy({ $0 >= 0 }),
              all[0] == 0, all[1] == 0, all[rank] == 0, all[rank + 1] == 0 else { return nil }
        return Array(all[2..<rank]) + Array(all[(rank + 2)...])
    }

    /// Fuses `Relu` and constant-bound `Clip` into the `Conv` that feeds them, when the
    /// convolution's own output has no other reader and is not protected.
    public static func fuseActivations(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard let x = node.inputs.first ?? nil, let p = use.foldableProducer(of: x),
                  let conv = nodes[p].op as? Convolution, conv.activation == nil else { continue }
            let activation: Convolution.Activation
            if let u = node.op as? Unary, u.function == .relu {
                activation = .relu
            } else if node.op is Clip, let bounds = constantBounds(node, graph) {
                activation = .clip(bounds.0, bounds.1)
            } else {
                continue
            }
            nodes[p] = Node(name: nodes[p].name, op: conv.fused(activation), inputs: nodes[p].inputs, outputs: node.outputs)
            removed.insert(i)
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }

    /// Replaces each `Add(P, Q)` one of whose operands (either order) is the output of a node
    /// that `fuse` absorbs: `fuse(producer, other operand)` returns the operator and inputs of
    /// the node that takes the Add's place (and outputs), and the producer goes. Only operands
    /// that are not protected, not graph outputs, and read by the Add alone are considered.
    static func fuseIntoAdds(_ graph: Graph, protected: Set<ValueID>,
                             _ fuse: (_ producer: Node, _ other: ValueID) -> (op: any Operator, inputs: [ValueID?])?) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard (node.op as? Binary)?.kind == .add, node.inputs.count == 2, let p = node.inputs[0], let q = node.inputs[1], p != q else { continue }
            for (operand, other) in [(p, q), (q, p)] {
                guard let source = use.foldableProducer(of: operand), !removed.contains(source),
                      let fused = fuse(graph.nodes[source], other) else { continue }
                nodes[i] = Node(name: node.name, op: fused.op, inputs: fused.inputs, outputs: node.outputs)
                removed.insert(source)
                break
            }
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }

    /// `graph` with its nodes replaced by `nodes` (index for index) less those at `removed`: how
    /// each rewrite ends.
    static func replacingNodes(of graph: Graph, with nodes: [Node], removing removed: Set<Int>) -> Graph {
        guard !removed.isEmpty else { return graph }
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
