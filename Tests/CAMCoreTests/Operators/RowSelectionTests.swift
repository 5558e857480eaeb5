import Testing
import CAMCore
import TestSupport

/// `GraphOptimizer.selectRowsEarly`: a class token picked after the last block is picked before
/// its per-token layers instead, with every value the model outputs unchanged.
@Suite("Row selection")
struct RowSelectionTests {
    /// A transformer's last block as it reaches the classifier: the residual stream a = x + pos,
    /// LayerNorm, MLP (projection, GELU, projection) added back to a, the final LayerNorm, then
    /// one token picked (`Gather` on `axis`) and a linear head.
    func lastBlock(pickAxis axis: Int) throws -> (Graph, x: ValueID, a: ValueID, normed: ValueID, final: ValueID, logits: ValueID) {
        var rng = SplitMix(seed: 71)
        var g = Graph()
        let x = try g.addValue("x")
        let names = ["a", "n1", "h", "hb", "gelu", "o", "ob", "r", "n2", "token", "logits"]
        let v = try Dictionary(uniqueKeysWithValues: names.map { ($0, try g.addValue($0)) })
        func constant(_ name: String, _ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> ValueID {
            g.addConstant(name, rng.tensor(shape, lo, hi))
        }
        let pos = constant("pos", [1, 5, 8]), gamma = constant("gamma", [8], 0.5, 1.5), beta = constant("beta", [8])
        let w1 = constant("w1", [8, 16]), b1 = constant("b1", [16]), w2 = constant("w2", [16, 8]), b2 = constant("b2", [8])
        let head = constant("head", [8, 3]), pick = g.addConstant("pick", Tensor(shape: [], int64s: [0]))
        g.inputs = [x]
        g.nodes = [Node(name: "pos", op: Binary(.add), inputs: [x, pos], outputs: [v["a"]!]),
                   Node(name: "norm1", op: LayerNormalization(axis: -1, epsilon: 1e-6), inputs: [v["a"]!, gamma, beta], outputs: [v["n1"]!]),
                   Node(name: "fc1", op: MatMul(), inputs: [v["n1"]!, w1], outputs: [v["h"]!]),
                   Node(name: "fc1.bias", op: Binary(.add), inputs: [b1, v["h"]!], outputs: [v["hb"]!]),
                   Node(name: "act", op: Unary(.gelu), inputs: [v["hb"]!], outputs: [v["gelu"]!]),
                   Node(name: "fc2", op: MatMul(), inputs: [v["gelu"]!, w2], outputs: [v["o"]!]),
                   Node(name: "fc2.bias", op: Binary(.add), inputs: [b2, v["o"]!], outputs: [v["ob"]!]),
                   Node(name: "residual", op: Binary(.add), inputs: [v["a"]!, v["ob"]!], outputs: [v["r"]!]),
                   Node(name: "norm", op: LayerNormalization(axis: -1, epsilon: 1e-6), inputs: [v["r"]!, gamma, beta], outputs: [v["n2"]!]),
                   Node(name: "pick", op: Gather(axis: axis), inputs: [v["n2"]!, pick], outputs: [v["token"]!]),
                   Node(name: "head", op: MatMul(), inputs: [v["token"]!, head], outputs: [v["logits"]!])]
        g.outputs = [v["logits"]!]
        return (g, x, v["a"]!, v["n1"]!, v["n2"]!, v["logits"]!)
    }

    /// The Gathers of an optimised graph, by the value each reads.
    func gathered(_ graph: Graph) -> [ValueID] { graph.nodes.filter { $0.op is Gather }.compactMap { $0.inputs[0] } }

    @Test func classTokenPickedBeforeTheLastBlock() throws {
        var rng = SplitMix(seed: 72)
        let (g, x, a, _, _, logits) = try lastBlock(pickAxis: 1)
        let optimized = GraphOptimizer.optimize(g, protected: [logits])
        // Both reads of the residual stream (the LayerNorm's and the residual Add's) gathered
        // once, before the block: everything after it runs on one row.
        #expect(gathered(optimized) == [a])
        let input = rng.tensor([2, 5, 8], -2, 2)
        let reference = try Executor(g).evaluate([x: input], fetch: [logits])[0]
        let result = try Executor(optimized).evaluate([x: input], fetch: [logits])[0]
        // Row by row, the same sums: the same values, but for BLAS, which may order a product's
        // sums by its row count (these weights are too small for the packed products).
        #expect(result.shape == [2, 3] && Compare.maxAbs(result, reference) <= 1e-5)
        // Gradients with respect to x, through the moved Gather and through the original one.
        func gradient(_ graph: Graph) throws -> Tensor {
            let gg = try Autodiff.differentiate(graph, outputs: [logits], wrt: [x])
            return try Executor(gg.graph).evaluate([x: input, gg.seeds[0]: Tensor(shape: [2, 3], floats: [1, -2, 0.5, 0.3, 1, -1])],
                                                   fetch: [gg.gradients[0]!])[0]
        }
        #expect(Compare.maxAbs(try gradient(optimized), try gradient(g)) <= 1e-5)
    }

    @Test func requestedValuesAndFeatureAxesStay() throws {
        // A value asked for (a CAM's target layer) is computed in full; the Gather stops at it
        // (and the residual stream, read by its LayerNorm too, is gathered for the residual Add).
        let (g, _, a, normed, _, logits) = try lastBlock(pickAxis: 1)
        #expect(Set(gathered(GraphOptimizer.optimize(g, protected: [logits, normed]))) == [normed, a])
        // Picking a feature (the last axis) is not picking rows: nothing moves.
        for axis in [2, -1] {
            let (features, _, _, _, final, out) = try lastBlock(pickAxis: axis)
            #expect(gathered(GraphOptimizer.optimize(features, protected: [out])) == [final])
        }
    }
}
