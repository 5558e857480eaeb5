/// Attention's scores, their softmax and the product with V, three operators whose n × n
/// intermediate values go to memory and back (7.4 MB per layer for DeiT-tiny at batch 16),
/// fused into one `Attention` node that keeps them in cache; then the copies around it (q, k
/// and v split out of the qkv projection, the result transposed back to tokens) folded into it.
extension GraphOptimizer {
    /// Replaces `MatMul(Softmax(S), V)` by `Attention` when S is the output of a `ScaledMatMul`
    /// (as `fuseScalesIntoMatMuls` leaves it) or of a plain `MatMul`, or that output multiplied
    /// (either order) or divided by another value; the Softmax is not a LogSoftmax; and none of
    /// the values between is read by anything else, protected or an output (a CAM on the
    /// attention weights keeps them). The fused node takes the product's place in the order.
    public static func fuseAttention(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard let product = node.op as? MatMul, !product.transposeA, !product.transposeB, node.inputs.count == 2,
                  let weights = node.inputs[0], let v = node.inputs[1],
                  let normalising = use.foldableProducer(of: weights), !removed.contains(normalising),
                  let softmax = graph.nodes[normalising].op as? Softmax, !softmax.log,
                  let softmaxInput = graph.nodes[normalising].inputs.first ?? nil else { continue }
            // The scores, and the Mul or Div that scales them, if any.
            var (s, scaling): (ValueID, (kind: Binary.Kind, by: ValueID, node: Int)?) = (softmaxInput, nil)
            if let m = use.foldableProducer(of: softmaxInput), !removed.contains(m), let binary = graph.nodes[m].op as? Binary,
               binary.kind == .mul || binary.kind == .div, graph.nodes[m].inputs.count == 2,
               let a = graph.nodes[m].inputs[0], let c = graph.nodes[m].inputs[1], a != c {
                for (scores, by) in binary.kind == .div ? [(a, c)] : [(a, c), (c, a)] {
                    guard let p = use.foldableProducer(of: scores), attentionScores(graph.nodes[p]) != nil else { continue }
                    (s, scaling) = (scores, (binary.kind, by, m))
                    break
                }
            }
            guard let scoring = use.foldableProducer(of: s), !removed.contains(scoring),
                  let (scores, scoreInputs) = attentionScores(graph.nodes[scoring]) else { continue }
            nodes[i] = Node(name: node.name, op: Attention(scores: scores, softmaxAxis: softmax.axis, scoresScale: scaling?.kind),
                            inputs: [scoreInputs[0], scoreInputs[1], v, scoreInputs[2], scoreInputs[3]] + (scaling.map { [$0.by] } ?? []),
                            outputs: node.outputs)
            removed.formUnion([normalising, scoring] + (scaling.map { [$0.node] } ?? []))
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

    /// Lets each `Attention` read q, k and v in place in the tensor they were split from (see
    /// `PackedQKV`) when they are three pieces of one `TransposedSplit`, each squeezed on
    /// constant axes, and write its result as the `Transpose(perm: [0, 2, 1, 3])` reading it
    /// wants it. Every value folded away (the pieces, q, k and v, the untransposed result) is
    /// read by the next node alone and is not protected or an output.
    public static func readAttentionOperandsInPlace(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        let use = GraphUsage(graph, protected: protected)
        var nodes = graph.nodes
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard let attention = node.op as? Attention, attention.packed == nil, !attention.tokensMajor, node.inputs.count >= 5 else { continue }
            var op = attention
            var inputs = node.inputs
            var outputs = node.outputs
            if let found = packedOperands(i, attention, graph, use), found.folded.isDisjoint(with: removed) {
                // q and k may be either operand of their scales' Mul: the piece goes first.
                let qScale = node.inputs[0] == found.q ? node.inputs[3] : node.inputs[0]
                let kScale = node.inputs[1] == found.k ? node.inputs[4] : node.inputs[1]
                op = attention.with(packed: found.packed, tokensMajor: false)
                inputs = [found.x, found.sizes, nil, qScale, kScale] + node.inputs.dropFirst(5)
                removed.formUnion(found.folded)
                for (s, piece) in found.shapes {
                    nodes[s] = Node(name: graph.nodes[s].name, op: PieceShape(packed: found.packed, piece: piece, shape: graph.nodes[s].op as! ShapeOf),
                                    inputs: [found.x, found.sizes], outputs: graph.nodes[s].outputs)
                }
            }
            if use.foldableProducer(of: node.outputs[0]) != nil, let t = use.readingNodes[node.outputs[0].index].first, !removed.contains(t),
               (graph.nodes[t].op as? Transpose)?.perm == Attention.headsAndRowsSwapped.perm, graph.nodes[t].inputs.count == 1 {
                op = op.with(packed: op.packed, tokensMajor: true)
                outputs = graph.nodes[t].outputs
                removed.insert(t)
            }
            nodes[i] = Node(name: node.name, op: op, inputs: inputs, outputs: outputs)
        }
        return replacingNodes(of: graph, with: nodes, removing: removed)
    }

    /// What reading q, k and v in place takes, for the Attention node at `index`.
    private struct PackedOperands {
        let packed: PackedQKV
        /// The split's inputs, and which of the node's inputs are q and k.
        let x: ValueID?, sizes: ValueID?, q: ValueID, k: ValueID
        /// The nodes that go: the split and the three squeezes.
        let folded: Set<Int>
        /// `Shape` nodes reading q, k or v (0, 1, 2), which read x instead.
        let shapes: [(node: Int, piece: Int)]
    }

    /// How the Attention node at `index` may read q, k and v in place: when they are the three
    /// pieces of one TransposedSplit (each read by its Squeeze alone), each squeezed on the same
    /// constant axes and read by that node alone, or by it and `Shape` nodes.
    private static func packedOperands(_ index: Int, _ attention: Attention, _ graph: Graph, _ use: GraphUsage) -> PackedOperands? {
        let node = graph.nodes[index]
        /// The squeeze producing `value`, its piece's index, its split node, its constant axes
        /// and the Shape nodes reading `value`.
        func squeezedPiece(_ value: ValueID?) -> (value: ValueID, squeeze: Int, piece: Int, split: Int, axes: [Int], shapes: [Int])? {
            guard let value, !use.keeps(value), case let readers = use.readingNodes[value.index], readers.contains(index),
                  case let others = readers.filter({ $0 != index }), others.allSatisfy({ graph.nodes[$0].op is ShapeOf }),
                  case let s = use.producer[value.index], s >= 0, graph.nodes[s].op is Squeeze, graph.nodes[s].inputs.count == 2,
                  let piece = graph.nodes[s].inputs[0], let axesValue = graph.nodes[s].inputs[1],
                  let axes = graph.constants[axesValue], axes.dtype == .int64,
                  let p = use.foldableProducer(of: piece), graph.nodes[p].op is TransposedSplit,
                  let pieceIndex = graph.nodes[p].outputs.firstIndex(of: piece) else { return nil }
            return (value, s, pieceIndex, p, axes.toInt64s().map(Int.init), others)
        }
        let scores = attention.scores
        // q is input 0, or input 3 when the scale's Mul had the scale first; k likewise (a
        // transposed k is known to be input 1).
        guard let q = squeezedPiece(node.inputs[0]) ?? (scores.scalesLeft ? squeezedPiece(node.inputs[3]) : nil),
              let k = squeezedPiece(node.inputs[1]) ?? (scores.scalesRight && scores.transpose == nil ? squeezedPiece(node.inputs[4]) : nil),
              let v = squeezedPiece(node.inputs[2]) else { return nil }
        let split = graph.nodes[q.split]
        guard k.split == q.split, v.split == q.split, Set([q.piece, k.piece, v.piece]).count == 3, q.axes == k.axes, k.axes == v.axes,
              let op = split.op as? TransposedSplit, split.outputs.count == 3,
              split.outputs.allSatisfy({ use.foldableProducer(of: $0) == q.split }) else { return nil }
        let packed = PackedQKV(split: op, outputs: 3, q: q.piece, k: k.piece, v: v.piece, squeezeAxes: v.axes)
        let shapes = [q, k, v].enumerated().flatMap { which, piece in piece.shapes.map { (node: $0, piece: which) } }
        return PackedOperands(packed: packed, x: split.inputs.first ?? nil, sizes: split.inputs.count > 1 ? split.inputs[1] : nil,
                              q: q.value, k: k.value, folded: [q.split, q.squeeze, k.squeeze, v.squeeze], shapes: shapes)
    }
}
