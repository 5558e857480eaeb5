import Testing
import CAMCore
import TestSupport

/// `Attention` (scores, softmax and the product with V in one pass per head) against the three
/// operators it replaces, its VJP against finite differences, and the graph rewrite that writes it.
@Suite("Attention")
struct AttentionTests {
    /// One head layout: q's batch and matrix, k's (as rows of keys or as columns), v's.
    struct Layout: CustomTestStringConvertible, Sendable {
        let q: [Int], k: [Int], v: [Int]
        let keysAsRows: Bool
        var testDescription: String { "q \(q) k \(k)\(keysAsRows ? "ᵀ" : "") v \(v)" }
    }

    static let layouts = [
        // DeiT-tiny at batch 2: whole heads per thread.
        Layout(q: [2, 3, 197, 64], k: [2, 3, 197, 64], v: [2, 3, 197, 64], keysAsRows: true),
        // Batch 1, three heads on two threads: heads cut in bands of rows.
        Layout(q: [1, 3, 197, 64], k: [1, 3, 197, 64], v: [1, 3, 197, 64], keysAsRows: true),
        // Keys already transposed (d × n), few tokens (a Swin window), no batch axes.
        Layout(q: [49, 32], k: [32, 49], v: [49, 32], keysAsRows: false),
        // Cross-attention: more keys than queries, sizes off every vector width, dv ≠ d.
        Layout(q: [2, 37, 20], k: [2, 45, 20], v: [2, 45, 36], keysAsRows: true),
        // k and v shared by the heads (broadcast), more than 256 values per score (two slabs).
        Layout(q: [2, 4, 33, 300], k: [1, 1, 40, 300], v: [1, 1, 40, 17], keysAsRows: true),
    ]

    /// The fused result and the three operators' one after another, on the same inputs.
    func results(_ layout: Layout, scales: (Tensor, Tensor)?, axis: Int = -1, seed: UInt64) throws -> (fused: Tensor, reference: Tensor) {
        var rng = SplitMix(seed: seed)
        let q = rng.tensor(layout.q, -2, 2), k = rng.tensor(layout.k, -2, 2), v = rng.tensor(layout.v)
        let transpose = layout.keysAsRows ? Transpose(perm: Array(0..<(layout.k.count - 2)) + [layout.k.count - 1, layout.k.count - 2]) : nil
        let scores = ScaledMatMul(scalesLeft: scales != nil, scalesRight: scales != nil, transpose: transpose)
        let inputs: [Tensor?] = [q, k, v, scales?.0, scales?.1]
        let fused = try Attention(scores: scores, softmaxAxis: axis).forward(inputs)[0]
        let s = try scores.forward([q, k, scales?.0, scales?.1])[0]
        let p = try Softmax(axis: axis).forward([s])[0]
        return (fused, try MatMul().forward([p, v])[0])
    }

    @Test("same values as the three operators", arguments: layouts)
    func matchesUnfused(_ layout: Layout) throws {
        // timm's √scale on each side (one value each), and no scales at all.
        let split = (Tensor(shape: [], floats: [0.35355339]), Tensor(shape: [1], floats: [0.35355339]))
        for (scales, seed) in [(Optional(split), UInt64(61)), (nil, 62)] {
            let (fused, reference) = try results(layout, scales: scales, seed: seed)
            #expect(fused.shape == reference.shape)
            // The same sums in the same order; 1e-6 leaves room for a BLAS that sums otherwise.
            #expect(Compare.maxAbs(fused, reference) <= 1e-6, "\(layout.testDescription)")
        }
    }

    /// A scale that broadcasts (one per key) is multiplied as written; a softmax along another
    /// axis than the last runs unfused. Both give the operators' values.
    @Test func scalesThatBroadcastAndOtherAxes() throws {
        let layout = Layout(q: [2, 3, 20, 8], k: [2, 3, 20, 8], v: [2, 3, 20, 8], keysAsRows: true)
        var rng = SplitMix(seed: 63)
        let perKey = (Tensor(shape: [], floats: [0.5]), rng.tensor([1, 20], 0.5, 1.5))
        for (scales, axis) in [(perKey, -1), ((Tensor(shape: [], floats: [0.5]), Tensor(shape: [], floats: [0.5])), 2)] {
            let (fused, reference) = try results(layout, scales: scales, axis: axis, seed: 64)
            #expect(fused.shape == reference.shape && Compare.maxAbs(fused, reference) <= 1e-6)
        }
    }

    @Test("VJP: q, k, v and both scales", arguments: [true, false])
    func vjp(_ keysAsRows: Bool) throws {
        var rng = SplitMix(seed: 65)
        let op = Attention(scores: ScaledMatMul(scalesLeft: true, scalesRight: true, transpose: keysAsRows ? Transpose(perm: [0, 2, 1]) : nil))
        let inputs = [rng.tensor([2, 5, 4]), rng.tensor(keysAsRows ? [2, 6, 4] : [2, 4, 6]), rng.tensor([2, 6, 3]),
                      Tensor(shape: [1], floats: [0.8]), Tensor(shape: [], floats: [-1.3])]
        #expect(try GradientCheck().maxError(op, inputs: inputs, check: [0, 1, 2, 3, 4]) < 1e-2)
        // Only v's gradient: the scores' VJPs are not built.
        #expect(try GradientCheck().maxError(op, inputs: inputs, check: [2]) < 1e-2)
    }

    /// timm's attention: `MatMul(Softmax(MatMul(Mul(q, s), Mul(Transpose(k), s))), v)`.
    func attentionGraph() throws -> (Graph, q: ValueID, k: ValueID, v: ValueID, s: ValueID, scores: ValueID, weights: ValueID, y: ValueID) {
        var g = Graph()
        let q = try g.addValue("q"), k = try g.addValue("k"), v = try g.addValue("v"), s = try g.addValue("s")
        let qs = try g.addValue("qs"), kT = try g.addValue("kT"), kTs = try g.addValue("kTs")
        let scores = try g.addValue("scores"), weights = try g.addValue("weights"), y = try g.addValue("y")
        g.inputs = [q, k, v, s]
        g.nodes = [Node(name: "mq", op: Binary(.mul), inputs: [q, s], outputs: [qs]),
                   Node(name: "t", op: Transpose(perm: [0, 1, 3, 2]), inputs: [k], outputs: [kT]),
                   Node(name: "mk", op: Binary(.mul), inputs: [kT, s], outputs: [kTs]),
                   Node(name: "scores", op: MatMul(), inputs: [qs, kTs], outputs: [scores]),
                   Node(name: "softmax", op: Softmax(axis: -1), inputs: [scores], outputs: [weights]),
                   Node(name: "context", op: MatMul(), inputs: [weights, v], outputs: [y])]
        g.outputs = [y]
        return (g, q, k, v, s, scores, weights, y)
    }

    @Test func graphRewrite() throws {
        var rng = SplitMix(seed: 66)
        let (g, q, k, v, s, scores, weights, y) = try attentionGraph()
        let fused = GraphOptimizer.optimize(g, protected: [y])
        #expect(fused.nodes.count == 1 && fused.nodes[0].op is Attention)
        let feeds = [q: rng.tensor([2, 3, 10, 8]), k: rng.tensor([2, 3, 10, 8]), v: rng.tensor([2, 3, 10, 8]),
                     s: Tensor(shape: [], floats: [0.6])]
        let reference = try Executor(g).evaluate(feeds, fetch: [y])[0]
        #expect(Compare.maxAbs(try Executor(fused).evaluate(feeds, fetch: [y])[0], reference) <= 1e-6)
        // Attention weights or scores that are asked for (a CAM on them) keep their nodes.
        for kept in [weights, scores] {
            let optimized = GraphOptimizer.optimize(g, protected: [y, kept])
            #expect(!optimized.nodes.contains { $0.op is Attention } && optimized.nodes.contains { $0.op is Softmax })
        }
        // A plain product for the scores (no scales, no transpose) fuses too.
        var plain = g
        plain.nodes = [Node(name: "scores", op: MatMul(), inputs: [q, k], outputs: [scores])] + g.nodes.suffix(2)
        plain.inputs = [q, k, v]
        let fusedPlain = GraphOptimizer.optimize(plain, protected: [y])
        #expect(fusedPlain.nodes.count == 1 && (fusedPlain.nodes[0].op as? Attention)?.scores.transpose == nil)
        let plainFeeds = [q: feeds[q]!, k: rng.tensor([2, 3, 8, 10]), v: feeds[v]!]
        #expect(Compare.maxAbs(try Executor(fusedPlain).evaluate(plainFeeds, fetch: [y])[0],
                               try Executor(plain).evaluate(plainFeeds, fetch: [y])[0]) <= 1e-6)
    }

    /// Scores scaled after the product, as Hugging Face's ViT exports them (`Div(q·kᵀ, √d)`)
    /// and older timm (`Mul(q·kᵀ, scale)`, here with the scale first): fused, with the same
    /// values (a divisor becomes a reciprocal in alpha: within an ulp of each score) and the
    /// same gradients, the scale's included.
    @Test("scores scaled after the product", arguments: [Binary.Kind.div, .mul])
    func scoresScaledAfterTheProduct(_ kind: Binary.Kind) throws {
        var rng = SplitMix(seed: 69)
        var g = Graph()
        let q = try g.addValue("q"), kT = try g.addValue("kT"), v = try g.addValue("v"), c = try g.addValue("c")
        let raw = try g.addValue("raw"), scores = try g.addValue("scores"), weights = try g.addValue("weights"), y = try g.addValue("y")
        g.inputs = [q, kT, v, c]
        g.nodes = [Node(name: "scores", op: MatMul(), inputs: [q, kT], outputs: [raw]),
                   Node(name: "scale", op: Binary(kind), inputs: kind == .div ? [raw, c] : [c, raw], outputs: [scores]),
                   Node(name: "softmax", op: Softmax(axis: -1), inputs: [scores], outputs: [weights]),
                   Node(name: "context", op: MatMul(), inputs: [weights, v], outputs: [y])]
        g.outputs = [y]
        let fused = GraphOptimizer.optimize(g, protected: [y])
        #expect(fused.nodes.count == 1 && (fused.nodes[0].op as? Attention)?.scoresScale == kind)
        let feeds = [q: rng.tensor([2, 3, 21, 8], -2, 2), kT: rng.tensor([2, 3, 8, 21], -2, 2), v: rng.tensor([2, 3, 21, 8]),
                     c: Tensor(shape: [], floats: [kind == .div ? 2.828427 : 0.35355339])]
        #expect(Compare.maxAbs(try Executor(fused).evaluate(feeds, fetch: [y])[0], try Executor(g).evaluate(feeds, fetch: [y])[0]) <= 1e-6)
        func gradients(_ graph: Graph) throws -> [Tensor] {
            let gg = try Autodiff.differentiate(graph, outputs: [y], wrt: [q, kT, v, c])
            var all = feeds
            all[gg.seeds[0]] = Tensor(repeating: 1, shape: [2, 3, 21, 8])
            return try Executor(gg.graph).evaluate(all, fetch: gg.gradients.map { $0! })
        }
        for (a, b) in zip(try gradients(fused), try gradients(g)) { #expect(a.shape == b.shape && Compare.maxAbs(a, b) <= 1e-4) }
        // A scale that is not one value (one per key) runs unfused, with the same values.
        let perKey = feeds.merging([c: rng.tensor([1, 21], 0.5, 1.5)]) { $1 }
        #expect(Compare.maxAbs(try Executor(fused).evaluate(perKey, fetch: [y])[0], try Executor(g).evaluate(perKey, fetch: [y])[0]) <= 1e-6)
        // The VJP against finite differences, the scale's included (q and k's own scales unused).
        let op = Attention(scores: ScaledMatMul(scalesLeft: false, scalesRight: false, transpose: nil), scoresScale: kind)
        #expect(try GradientCheck().maxError(op, inputs: [rng.tensor([2, 5, 4]), rng.tensor([2, 4, 6]), rng.tensor([2, 6, 3]),
                                                          Tensor(shape: [], floats: [1]), Tensor(shape: [], floats: [1]), Tensor(shape: [1], floats: [1.7])],
                                             check: [0, 1, 2, 5]) < 1e-2)
    }

    /// Gradients through the fused graph, with respect to q, k and v, equal the unfused graph's.
    @Test func gradientsThroughTheRewrite() throws {
        var rng = SplitMix(seed: 67)
        let (g, q, k, v, s, _, _, y) = try attentionGraph()
        let feeds = [q: rng.tensor([1, 2, 9, 4]), k: rng.tensor([1, 2, 9, 4]), v: rng.tensor([1, 2, 9, 4]),
                     s: Tensor(shape: [], floats: [0.7])]
        func gradients(_ graph: Graph) throws -> [Tensor] {
            let gg = try Autodiff.differentiate(graph, outputs: [y], wrt: [q, k, v])
            var all = feeds
            all[gg.seeds[0]] = Tensor(repeating: 1, shape: [1, 2, 9, 4])
            return try Executor(gg.graph).evaluate(all, fetch: gg.gradients.map { $0! })
        }
        let fused = GraphOptimizer.optimize(g, protected: [y])
        #expect(fused.nodes.contains { $0.op is Attention })
        for (a, b) in zip(try gradients(fused), try gradients(g)) { #expect(Compare.maxAbs(a, b) <= 1e-5) }
    }

    // MARK: q, k and v read in place

    /// A vision transformer's whole attention from its qkv projection's output x (B, N, 3·H·d):
    /// Reshape to (B, N, 3, H, d), Transpose(2, 0, 3, 1, 4), Split in three, Squeeze each,
    /// timm's scores (the Mul's operands in either order), softmax, product with v, Transpose
    /// back to (B, N, H, d) and Reshape to (B, N, H·d); and Shape(q), as timm reads it.
    func vitAttention(heads: Int, dim: Int, scaleFirst: Bool) throws -> (Graph, x: ValueID, s: ValueID, y: ValueID, qShape: ValueID, q: ValueID) {
        var g = Graph()
        let x = try g.addValue("x"), s = try g.addValue("s")
        let shaped = try g.addValue("shaped"), t = try g.addValue("t")
        let pieces = try (0..<3).map { try g.addValue("piece\($0)") }
        let q = try g.addValue("q"), k = try g.addValue("k"), v = try g.addValue("v"), qShape = try g.addValue("qShape")
        let qs = try g.addValue("qs"), kT = try g.addValue("kT"), kTs = try g.addValue("kTs")
        let scores = try g.addValue("scores"), weights = try g.addValue("weights"), context = try g.addValue("context")
        let tokens = try g.addValue("tokens"), y = try g.addValue("y")
        let split = g.addConstant("split", Tensor(shape: [3], int64s: [1, 1, 1]))
        let axis0 = g.addConstant("axis0", Tensor(shape: [1], int64s: [0]))
        let toHeads = g.addConstant("toHeads", Tensor(shape: [5], int64s: [0, 0, 3, Int64(heads), Int64(dim)]))
        let merged = g.addConstant("merged", Tensor(shape: [3], int64s: [0, 0, Int64(heads * dim)]))
        g.inputs = [x, s]
        g.nodes = [Node(name: "reshape", op: Reshape(allowZero: false), inputs: [x, toHeads], outputs: [shaped]),
                   Node(name: "t", op: Transpose(perm: [2, 0, 3, 1, 4]), inputs: [shaped], outputs: [t]),
                   Node(name: "split", op: Split(axis: 0, numOutputs: 3), inputs: [t, split], outputs: pieces)]
            + zip([q, k, v], pieces).map { Node(name: "squeeze", op: Squeeze(), inputs: [$1, axis0], outputs: [$0]) }
            + [Node(name: "shape", op: ShapeOf(start: -1), inputs: [q], outputs: [qShape]),
               Node(name: "mq", op: Binary(.mul), inputs: scaleFirst ? [s, q] : [q, s], outputs: [qs]),
               Node(name: "tk", op: Transpose(perm: [0, 1, 3, 2]), inputs: [k], outputs: [kT]),
               Node(name: "mk", op: Binary(.mul), inputs: scaleFirst ? [s, kT] : [kT, s], outputs: [kTs]),
               Node(name: "scores", op: MatMul(), inputs: [qs, kTs], outputs: [scores]),
               Node(name: "softmax", op: Softmax(axis: -1), inputs: [scores], outputs: [weights]),
               Node(name: "context", op: MatMul(), inputs: [weights, v], outputs: [context]),
               Node(name: "back", op: Transpose(perm: [0, 2, 1, 3]), inputs: [context], outputs: [tokens]),
               Node(name: "merge", op: Reshape(allowZero: false), inputs: [tokens, merged], outputs: [y])]
        g.outputs = [y, qShape]
        return (g, x, s, y, qShape, q)
    }

    @Test("q, k and v read where the qkv projection wrote them", arguments: [false, true])
    func operandsReadInPlace(_ scaleFirst: Bool) throws {
        var rng = SplitMix(seed: 68)
        let (g, x, s, y, qShape, q) = try vitAttention(heads: 3, dim: 16, scaleFirst: scaleFirst)
        let fused = GraphOptimizer.optimize(g, protected: [y, qShape])
        let attention = fused.nodes.compactMap { $0.op as? Attention }
        #expect(attention.count == 1 && attention[0].packed != nil && attention[0].tokensMajor)
        #expect(!fused.nodes.contains { $0.op is TransposedSplit || $0.op is Squeeze || $0.op is Transpose })
        #expect(fused.nodes.contains { $0.op is PieceShape })
        // Batch 1 (heads in bands of rows) and 2 (whole heads); 37 tokens.
        for batch in [1, 2] {
            let feeds = [x: rng.tensor([batch, 37, 3 * 3 * 16], -2, 2), s: Tensor(shape: [], floats: [0.5])]
            let reference = try Executor(g).evaluate(feeds, fetch: [y, qShape])
            let result = try Executor(fused).evaluate(feeds, fetch: [y, qShape])
            #expect(result[0].shape == [batch, 37, 48] && Compare.maxAbs(result[0], reference[0]) <= 1e-6)
            #expect(result[1].toInt64s() == [16] && result[1].toInt64s() == reference[1].toInt64s())
            // Gradients with respect to x and the scale, through the fused node and through the nodes.
            func gradients(_ graph: Graph) throws -> [Tensor] {
                let gg = try Autodiff.differentiate(graph, outputs: [y], wrt: [x, s])
                var all = feeds
                all[gg.seeds[0]] = rng.tensor([batch, 37, 48])
                return try Executor(gg.graph).evaluate(all, fetch: gg.gradients.map { $0! })
            }
            let seedState = rng
            let viaNodes = try gradients(g)
            rng = seedState
            let viaFused = try gradients(fused)
            for (a, b) in zip(viaFused, viaNodes) { #expect(a.shape == b.shape && Compare.maxAbs(a, b) <= 1e-4 * Swift.max(1, Compare.maxAbs(b, Tensor(zeros: b.shape)))) }
        }
        // q asked for (a CAM on it): the split stays; attention is still fused.
        let keptQ = GraphOptimizer.optimize(g, protected: [y, qShape, q])
        #expect(keptQ.nodes.contains { $0.op is TransposedSplit } && keptQ.nodes.contains { ($0.op as? Attention)?.packed == nil && $0.op is Attention })
    }
}
