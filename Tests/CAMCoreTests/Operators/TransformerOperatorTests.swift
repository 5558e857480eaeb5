import Foundation
import Testing
import CAMCore
import TestSupport

/// The operators vision-transformer exports use (ViT, DeiT, Swin): VJPs against finite
/// differences in the forms those graphs contain, LayerNormalization against its decomposed
/// form, and a second derivative through LayerNormalization.
@Suite("Transformer operators")
struct TransformerOperatorTests {
    let check = GradientCheck()

    // MARK: LayerNormalization

    @Test("LayerNormalization VJP", arguments: [
        ([2, 3, 5], -1, true), ([2, 3, 5], 1, true), ([2, 3, 5], 0, false), ([4, 6], -1, false), ([2, 2, 3, 2], -2, true),
    ])
    func layerNormalization(_ shape: [Int], _ axis: Int, _ withBias: Bool) throws {
        var rng = SplitMix(seed: 31)
        let x = rng.tensor(shape, -2, 2)
        let normalized = Array(shape[(axis < 0 ? axis + shape.count : axis)...])
        let scale = rng.tensor(normalized, 0.5, 1.5)
        var inputs = [x, scale]
        if withBias { inputs.append(rng.tensor(normalized)) }
        let op = LayerNormalization(axis: axis, epsilon: 1e-5)
        let all = Array(inputs.indices)
        // Y with the statistics as outputs (as the ONNX importer builds it) and without (recomputed).
        #expect(try check.maxError(op, inputs: inputs, check: all, outputIndex: 0, outputs: 3) < 1e-2)
        #expect(try check.maxError(op, inputs: inputs, check: all, outputIndex: 0, outputs: 1) < 1e-2)
        // Gradients flowing into the Mean and InvStdDev outputs (a second differentiation needs them).
        #expect(try check.maxError(op, inputs: inputs, check: [0], outputIndex: 1, outputs: 3) < 1e-2)
        #expect(try check.maxError(op, inputs: inputs, check: [0], outputIndex: 2, outputs: 3) < 1e-2)
    }

    @Test func layerNormalizationStatisticsOutputs() throws {
        let x = Tensor(shape: [2, 4], floats: [1, 2, 3, 4, -1, -1, 1, 1])
        let out = try LayerNormalization(axis: 1, epsilon: 0).forward([x, Tensor(repeating: 1, shape: [4]), nil])
        #expect(out[1].shape == [2, 1] && out[2].shape == [2, 1])
        #expect(out[1].toFloats() == [2.5, 0])
        // Copies, not `floats`: a pointer into a temporary's buffer may outlive the buffer
        // (found by AddressSanitizer).
        let (normalized, inverseStd) = (out[0].toFloats(), out[2].toFloats())
        #expect(abs(inverseStd[0] - 1 / Float(1.25).squareRoot()) < 1e-6 && abs(inverseStd[1] - 1) < 1e-6)
        #expect(abs(normalized[7] - 1) < 1e-6)
    }

    /// `(x − mean) / sqrt(mean((x − mean)²) + ε) · γ + β` as exporters write it without the fused op.
    func decomposedLayerNorm(axis: Int, epsilon: Float, scale: Tensor, bias: Tensor) throws -> (Graph, ValueID, ValueID) {
        var g = Graph()
        let x = try g.addValue("x")
        g.inputs = [x]
        let axes = g.addConstant("axes", int64s([axis]))
        let two = g.addConstant("two", Tensor(scalar: 2)), eps = g.addConstant("eps", Tensor(scalar: epsilon))
        let gamma = g.addConstant("gamma", scale), beta = g.addConstant("beta", bias)
        let names = ["mean", "centred", "squared", "variance", "shifted", "std", "normalised", "scaled", "y"]
        var v: [String: ValueID] = [:]
        for n in names { v[n] = try g.addValue(n) }
        g.nodes = [
            Node(name: "mean", op: Reduce(.mean, keepDims: true), inputs: [x, axes], outputs: [v["mean"]!]),
            Node(name: "sub", op: Binary(.sub), inputs: [x, v["mean"]!], outputs: [v["centred"]!]),
            Node(name: "pow", op: Binary(.pow), inputs: [v["centred"]!, two], outputs: [v["squared"]!]),
            Node(name: "var", op: Reduce(.mean, keepDims: true), inputs: [v["squared"]!, axes], outputs: [v["variance"]!]),
            Node(name: "add_eps", op: Binary(.add), inputs: [v["variance"]!, eps], outputs: [v["shifted"]!]),
            Node(name: "sqrt", op: Unary(.sqrt), inputs: [v["shifted"]!], outputs: [v["std"]!]),
            Node(name: "div", op: Binary(.div), inputs: [v["centred"]!, v["std"]!], outputs: [v["normalised"]!]),
            Node(name: "mul", op: Binary(.mul), inputs: [v["normalised"]!, gamma], outputs: [v["scaled"]!]),
            Node(name: "add", op: Binary(.add), inputs: [v["scaled"]!, beta], outputs: [v["y"]!]),
        ]
        g.outputs = [v["y"]!]
        return (g, x, v["y"]!)
    }

    @Test func decomposedFormMatchesTheFusedOperator() throws {
        var rng = SplitMix(seed: 32)
        let x = rng.tensor([2, 5, 8], -3, 3)
        let scale = rng.tensor([8], 0.5, 1.5), bias = rng.tensor([8])
        let (g, xv, yv) = try decomposedLayerNorm(axis: -1, epsilon: 1e-6, scale: scale, bias: bias)
        let fused = try LayerNormalization(axis: -1, epsilon: 1e-6).forward([x, scale, bias])[0]
        let decomposed = try Executor(g).evaluate([xv: x], fetch: [yv])[0]
        #expect(Compare.maxAbs(fused, decomposed) < 1e-5)

        // Gradients of ⟨r, y⟩ with respect to x through both forms.
        let r = rng.tensor(fused.shape)
        let dd = try Autodiff.differentiate(g, outputs: [yv], wrt: [xv])
        let gDecomposed = try Executor(dd.graph).evaluate([xv: x, dd.seeds[0]: r], fetch: [dd.gradients[0]!])[0]
        var f = Graph()
        let fx = try f.addValue("x"), fy = try f.addValue("y"), fm = try f.addValue("mean"), fs = try f.addValue("inv_std")
        f.inputs = [fx]
        f.nodes = [Node(name: "ln", op: LayerNormalization(axis: -1, epsilon: 1e-6),
                        inputs: [fx, f.addConstant("gamma", scale), f.addConstant("beta", bias)], outputs: [fy, fm, fs])]
        f.outputs = [fy]
        let fd = try Autodiff.differentiate(f, outputs: [fy], wrt: [fx])
        let gFused = try Executor(fd.graph).evaluate([fx: x, fd.seeds[0]: r], fetch: [fd.gradients[0]!])[0]
        #expect(Compare.relative(gDecomposed, gFused) < 1e-4)
    }

    @Test func hessianVectorProductThroughLayerNormalization() throws {
        // f(x) = Σ r ⊙ tanh(LN(x)); ⟨∇f, v⟩ differentiated again is H·v, against finite
        // differences of the gradient.
        var rng = SplitMix(seed: 33)
        var g = Graph()
        let x = try g.addValue("x"), y = try g.addValue("y"), m = try g.addValue("m"), s = try g.addValue("s"), t = try g.addValue("t")
        g.inputs = [x]
        g.nodes = [
            Node(name: "ln", op: LayerNormalization(axis: -1, epsilon: 1e-5),
                 inputs: [x, g.addConstant("gamma", rng.tensor([6], 0.5, 1.5)), g.addConstant("beta", rng.tensor([6]))], outputs: [y, m, s]),
            Node(name: "tanh", op: Unary(.tanh), inputs: [y], outputs: [t]),
        ]
        g.outputs = [t]
        let first = try Autodiff.differentiate(g, outputs: [t], wrt: [x])
        var g2 = first.graph
        let v = try g2.addValue("v"), dot = try g2.addValue("dot")
        g2.nodes.append(Node(name: "dot", op: Binary(.mul), inputs: [first.gradients[0]!, v], outputs: [dot]))
        let second = try Autodiff.differentiate(g2, outputs: [dot], wrt: [x])
        let xs = rng.tensor([3, 6], -2, 2), vs = rng.tensor([3, 6]), seed = rng.tensor([3, 6])
        let hvp = try Executor(second.graph).evaluate([x: xs, v: vs, first.seeds[0]: seed, second.seeds[0]: Tensor(repeating: 1, shape: [3, 6])],
                                                     fetch: [second.gradients[0]!])[0]
        let e1 = try Executor(first.graph)
        func grad(_ at: Tensor) throws -> Tensor { try e1.evaluate([x: at, first.seeds[0]: seed], fetch: [first.gradients[0]!])[0] }
        let eps: Float = 1e-2
        let gp = try grad(Tensor(shape: xs.shape, floats: zip(xs.floats, vs.floats).map { $0 + eps * $1 }))
        let gm = try grad(Tensor(shape: xs.shape, floats: zip(xs.floats, vs.floats).map { $0 - eps * $1 }))
        let scale = Swift.max(1, hvp.floats.map(abs).max()!)
        for i in 0..<xs.count {
            let numeric = (gp.floats[i] - gm.floats[i]) / (2 * eps)
            #expect(abs(numeric - hvp.floats[i]) / scale < 5e-3, "element \(i): \(hvp.floats[i]) vs \(numeric)")
        }
    }

    // MARK: GELU fusion

    /// The exact GELU as exporters write it, in one of its spellings.
    func erfGELU(_ form: Int) throws -> (Graph, x: ValueID, y: ValueID, erf: ValueID) {
        var g = Graph()
        let x = try g.addValue("x")
        g.inputs = [x]
        let half = g.addConstant("half", Tensor(scalar: 0.5)), one = g.addConstant("one", Tensor(scalar: 1))
        let names = ["scaled", "erf", "plus", "prod", "y"]
        var v: [String: ValueID] = [:]
        for n in names { v[n] = try g.addValue(n) }
        let scaleNode = form == 1
            ? Node(name: "scale", op: Binary(.mul), inputs: [x, g.addConstant("inv_sqrt2", Tensor(scalar: 0.70710678))], outputs: [v["scaled"]!])
            : Node(name: "scale", op: Binary(.div), inputs: [x, g.addConstant("sqrt2", Tensor(scalar: 1.4142135))], outputs: [v["scaled"]!])
        g.nodes = [
            scaleNode,
            Node(name: "erf", op: Unary(.erf), inputs: [v["scaled"]!], outputs: [v["erf"]!]),
            Node(name: "plus", op: Binary(.add), inputs: form == 2 ? [one, v["erf"]!] : [v["erf"]!, one], outputs: [v["plus"]!]),
        ]
        if form == 2 {
            // 0.5 · x first, then times (1 + erf).
            g.nodes += [Node(name: "half", op: Binary(.mul), inputs: [half, x], outputs: [v["prod"]!]),
                        Node(name: "mul", op: Binary(.mul), inputs: [v["plus"]!, v["prod"]!], outputs: [v["y"]!])]
        } else {
            g.nodes += [Node(name: "mul", op: Binary(.mul), inputs: [x, v["plus"]!], outputs: [v["prod"]!]),
                        Node(name: "half", op: Binary(.mul), inputs: [v["prod"]!, half], outputs: [v["y"]!])]
        }
        g.outputs = [v["y"]!]
        return (g, x, v["y"]!, v["erf"]!)
    }

    @Test("the exact GELU's five nodes become one", arguments: [0, 1, 2])
    func geluFusion(_ form: Int) throws {
        let (g, x, y, erf) = try erfGELU(form)
        let fused = GraphOptimizer.optimize(g, protected: [y])
        #expect(fused.nodes.count == 1 && (fused.nodes[0].op as? Unary)?.function == .gelu)
        var rng = SplitMix(seed: 36)
        let input = rng.tensor([3, 7], -4, 4)
        let reference = try Executor(g).evaluate([x: input], fetch: [y])[0]
        #expect(Compare.maxAbs(try Executor(fused).evaluate([x: input], fetch: [y])[0], reference) < 1e-6)
        // A requested intermediate keeps the nodes as they are.
        #expect(GraphOptimizer.optimize(g, protected: [y, erf]).nodes.count == 5)
    }

    // MARK: MatMul + bias fusion

    @Test("a projection's MatMul and bias Add become one product", arguments: [false, true])
    func matMulBiasFusion(_ biasFirst: Bool) throws {
        var rng = SplitMix(seed: 37)
        var g = Graph()
        let x = try g.addValue("x"), product = try g.addValue("product"), y = try g.addValue("y")
        g.inputs = [x]
        let w = g.addConstant("W", rng.tensor([6, 5])), bias = g.addConstant("b", rng.tensor([5]))
        g.nodes = [Node(name: "mm", op: MatMul(), inputs: [x, w], outputs: [product]),
                   Node(name: "add", op: Binary(.add), inputs: biasFirst ? [bias, product] : [product, bias], outputs: [y])]
        g.outputs = [y]
        let fused = GraphOptimizer.optimize(g, protected: [y])
        #expect(fused.nodes.count == 1 && fused.nodes[0].op is MatMulBias)
        let input = rng.tensor([2, 7, 6])
        let reference = try Executor(g).evaluate([x: input], fetch: [y])[0]
        let result = try Executor(fused).evaluate([x: input], fetch: [y])[0]
        #expect(result.shape == [2, 7, 5] && Compare.maxAbs(result, reference) < 1e-6)
        // A requested product keeps the nodes as they are.
        #expect(GraphOptimizer.optimize(g, protected: [y, product]).nodes.count == 2)
    }

    /// The packed product's edges (`gemm_packed.c`, AVX-512): more rows than one 256-row block,
    /// a depth past one 256-row slab of W, columns past one 192-wide block and not a multiple
    /// of 16; with and without the residual. Elsewhere this is BLAS against BLAS.
    @Test("a projection as large as a layer equals MatMul then Add", arguments: [false, true])
    func largeMatMulBias(_ residual: Bool) throws {
        var rng = SplitMix(seed: residual ? 44 : 43)
        let x = rng.tensor([2, 150, 300]), w = rng.tensor([300, 205]), bias = rng.tensor([205]), r = rng.tensor([2, 150, 205])
        var expected = try Binary(.add).forward([try MatMul().forward([x, w])[0], bias])[0]
        if residual { expected = try Binary(.add).forward([expected, r])[0] }
        let result = try MatMulBias(addsResidual: residual).forward([x, w, bias] + (residual ? [r] : []))[0]
        #expect(result.shape == [2, 150, 205] && Compare.maxAbs(result, expected) < 1e-4)
    }

    @Test func matMulBiasVJP() throws {
        var rng = SplitMix(seed: 38)
        let inputs = [rng.tensor([2, 3, 4]), rng.tensor([4, 5]), rng.tensor([1, 5])]
        #expect(try check.maxError(MatMulBias(), inputs: inputs, check: [0, 1, 2]) < 1e-2)
        // A vector A (outside the fused product's shapes) still gives MatMul + Add.
        let v = try MatMulBias().forward([Tensor(shape: [4], floats: [1, 0, 0, 0]), inputs[1], Tensor(repeating: 1, shape: [5])])[0]
        #expect(v.shape == [5] && v.toFloats() == inputs[1].toFloats()[0..<5].map { $0 + 1 })
    }

    @Test("a residual Add after a projection joins its product", arguments: [false, true])
    func matMulBiasResidualFusion(_ residualFirst: Bool) throws {
        var rng = SplitMix(seed: 41)
        var g = Graph()
        let x = try g.addValue("x"), r = try g.addValue("r"), product = try g.addValue("product")
        let projected = try g.addValue("projected"), y = try g.addValue("y")
        g.inputs = [x, r]
        let w = g.addConstant("W", rng.tensor([6, 5])), bias = g.addConstant("b", rng.tensor([5]))
        g.nodes = [Node(name: "mm", op: MatMul(), inputs: [x, w], outputs: [product]),
                   Node(name: "bias", op: Binary(.add), inputs: [product, bias], outputs: [projected]),
                   Node(name: "residual", op: Binary(.add), inputs: residualFirst ? [r, projected] : [projected, r], outputs: [y])]
        g.outputs = [y]
        let fused = GraphOptimizer.optimize(g, protected: [y])
        #expect(fused.nodes.count == 1 && (fused.nodes[0].op as? MatMulBias)?.addsResidual == true)
        for residualShape in [[2, 7, 5], [1, 5]] {   // the second broadcasts: computed unfused
            let feeds = [x: rng.tensor([2, 7, 6]), r: rng.tensor(residualShape)]
            let reference = try Executor(g).evaluate(feeds, fetch: [y])[0]
            let result = try Executor(fused).evaluate(feeds, fetch: [y])[0]
            #expect(result.shape == [2, 7, 5] && Compare.maxAbs(result, reference) < 1e-6)
        }
        // A requested projection, or a constant residual, keeps the Add.
        #expect(GraphOptimizer.optimize(g, protected: [y, projected]).nodes.count == 2)
        var constant = g
        constant.inputs = [x]
        constant.constants[r] = rng.tensor([2, 7, 5])
        #expect(GraphOptimizer.optimize(constant, protected: [y]).nodes.count == 2)
    }

    @Test func matMulBiasResidualVJP() throws {
        var rng = SplitMix(seed: 42)
        let inputs = [rng.tensor([2, 3, 4]), rng.tensor([4, 5]), rng.tensor([1, 5]), rng.tensor([2, 3, 5])]
        #expect(try check.maxError(MatMulBias(addsResidual: true), inputs: inputs, check: [0, 1, 2, 3]) < 1e-2)
    }

    @Test("the GELU after a projection joins its product")
    func geluProjectionFusion() throws {
        var rng = SplitMix(seed: 47)
        var g = Graph()
        let x = try g.addValue("x"), product = try g.addValue("product"), projected = try g.addValue("projected"), y = try g.addValue("y")
        g.inputs = [x]
        let w = g.addConstant("W", rng.tensor([300, 205])), bias = g.addConstant("b", rng.tensor([205]))
        g.nodes = [Node(name: "mm", op: MatMul(), inputs: [x, w], outputs: [product]),
                   Node(name: "bias", op: Binary(.add), inputs: [product, bias], outputs: [projected]),
                   Node(name: "gelu", op: Unary(.gelu), inputs: [projected], outputs: [y])]
        g.outputs = [y]
        let fused = GraphOptimizer.optimize(g, protected: [y])
        #expect(fused.nodes.count == 1 && (fused.nodes[0].op as? MatMulBias)?.appliesGELU == true)
        // Rows past one 256-row block, depth past one slab, columns not a multiple of 16: the
        // GELU applied block by block equals the GELU of the whole projection, to the bit.
        let input = rng.tensor([2, 150, 300])
        let result = try Executor(fused).evaluate([x: input], fetch: [y])[0]
        let projection = try MatMulBias().forward([input, g.constants[w]!, g.constants[bias]!])[0]
        let expected = try Unary(.gelu).forward([projection])[0], unfused = try Executor(g).evaluate([x: input], fetch: [y])[0]
        #expect(result.shape == [2, 150, 205] && result.toFloats() == expected.toFloats())
        #expect(Compare.maxAbs(result, unfused) < 1e-4)
        // A requested projection keeps its Gelu.
        #expect(GraphOptimizer.optimize(g, protected: [y, projected]).nodes.count == 2)
    }

    @Test func geluProjectionVJP() throws {
        var rng = SplitMix(seed: 48)
        let inputs = [rng.tensor([2, 3, 4]), rng.tensor([4, 5]), rng.tensor([1, 5]), rng.tensor([2, 3, 5])]
        #expect(try check.maxError(MatMulBias(appliesGELU: true), inputs: Array(inputs.prefix(3)), check: [0, 1, 2]) < 1e-2)
        #expect(try check.maxError(MatMulBias(addsResidual: true, appliesGELU: true), inputs: inputs, check: [0, 1, 2, 3]) < 1e-2)
    }

    /// The exact GELU against erf in double, over rows whose lengths leave a partial last
    /// vector; ±∞ and NaN pass as they should.
    @Test func geluMatchesDouble() throws {
        var rng = SplitMix(seed: 49)
        for n in [1, 15, 16, 37, 1000] {
            let x = rng.tensor([n], -8, 8)
            let y = try Unary(.gelu).forward([x])[0].toFloats()
            for (xi, yi) in zip(x.toFloats(), y) {
                let exact = 0.5 * Double(xi) * (1 + Foundation.erf(Double(xi) / 2.0.squareRoot()))
                #expect(abs(Double(yi) - exact) < 1e-6, "gelu(\(xi)) = \(yi), not \(exact)")
            }
        }
        let special = try Unary(.gelu).forward([Tensor(shape: [3], floats: [.infinity, .nan, 0])])[0].toFloats()
        #expect(special[0] == .infinity && special[1].isNaN && special[2] == 0)
    }

    // MARK: Transpose + Split

    /// Attention's qkv split: (B, N, 3, H, D) → Transpose(2, 0, 3, 1, 4) → Split on axis 0, with
    /// the sizes as an input and as equal parts, and a split on an inner axis.
    @Test("Split(Transpose(x)) becomes one pass, value for value", arguments: [(0, true), (0, false), (3, false)])
    func transposeSplitFusion(_ axis: Int, _ sizesAsInput: Bool) throws {
        var rng = SplitMix(seed: 43)
        var g = Graph()
        let x = try g.addValue("x"), t = try g.addValue("t")
        let pieces = try (0..<3).map { try g.addValue("piece\($0)") }
        g.inputs = [x]
        var splitInputs: [ValueID?] = [t]
        if sizesAsInput { splitInputs.append(g.addConstant("sizes", Tensor(shape: [3], int64s: [1, 1, 1]))) }
        g.nodes = [Node(name: "t", op: Transpose(perm: [2, 0, 3, 1, 4]), inputs: [x], outputs: [t]),
                   Node(name: "split", op: Split(axis: axis, numOutputs: 3), inputs: splitInputs, outputs: pieces)]
        g.outputs = pieces
        let fused = GraphOptimizer.optimize(g, protected: Set(pieces))
        #expect(fused.nodes.count == 1 && fused.nodes[0].op is TransposedSplit)
        let input = rng.tensor([2, 5, 3, 3, 4])
        let reference = try Executor(g).evaluate([x: input], fetch: pieces)
        let result = try Executor(fused).evaluate([x: input], fetch: pieces)
        for (r, e) in zip(result, reference) { #expect(r.shape == e.shape && r.toFloats() == e.toFloats()) }
        // A requested transpose keeps both nodes.
        #expect(GraphOptimizer.optimize(g, protected: Set(pieces + [t])).nodes.count == 2)
    }

    @Test func transposedSplitVJP() throws {
        var rng = SplitMix(seed: 44)
        let op = TransposedSplit(transpose: Transpose(perm: [2, 0, 1]), split: Split(axis: 0, numOutputs: 2))
        // The second piece alone: the first one's gradient is zeros, and the pieces land where they came from.
        #expect(try check.maxError(op, inputs: [rng.tensor([3, 2, 4])], check: [0], outputIndex: 1, outputs: 2) < 1e-2)
    }

    // MARK: Scaled MatMul

    /// Attention's scores as timm exports them: `MatMul(Mul(q, s), Mul(Transpose(k), s))`, with
    /// q and k (B, H, N, D) and s one value, or with the Mul's operands the other way round.
    func attentionScores(scaleFirst: Bool) throws -> (Graph, q: ValueID, k: ValueID, s: ValueID, y: ValueID, kT: ValueID) {
        var g = Graph()
        let q = try g.addValue("q"), k = try g.addValue("k"), s = try g.addValue("s")
        let qs = try g.addValue("qs"), kT = try g.addValue("kT"), kTs = try g.addValue("kTs"), y = try g.addValue("y")
        g.inputs = [q, k, s]
        g.nodes = [Node(name: "mq", op: Binary(.mul), inputs: scaleFirst ? [s, q] : [q, s], outputs: [qs]),
                   Node(name: "t", op: Transpose(perm: [0, 1, 3, 2]), inputs: [k], outputs: [kT]),
                   Node(name: "mk", op: Binary(.mul), inputs: scaleFirst ? [s, kT] : [kT, s], outputs: [kTs]),
                   Node(name: "mm", op: MatMul(), inputs: [qs, kTs], outputs: [y])]
        g.outputs = [y]
        return (g, q, k, s, y, kT)
    }

    @Test("attention's scales and transpose of k fold into its product", arguments: [false, true])
    func scaledMatMulFusion(_ scaleFirst: Bool) throws {
        var rng = SplitMix(seed: 45)
        let (g, q, k, s, y, kT) = try attentionScores(scaleFirst: scaleFirst)
        let fused = GraphOptimizer.optimize(g, protected: [y])
        #expect(fused.nodes.count == 1 && fused.nodes[0].op is ScaledMatMul)
        // One value (shaped [] or [1]) folds into alpha; a scale that broadcasts is multiplied
        // as written, and then the result is the same to the bit.
        for (scale, exact) in [(Tensor(shape: [], floats: [0.35]), false), (Tensor(shape: [1], floats: [-1.7]), false),
                               (rng.tensor([5]), true)] {
            let feeds = [q: rng.tensor([2, 3, 5, 5]), k: rng.tensor([2, 3, 5, 5]), s: scale]
            let reference = try Executor(g).evaluate(feeds, fetch: [y])[0]
            let result = try Executor(fused).evaluate(feeds, fetch: [y])[0]
            #expect(result.shape == [2, 3, 5, 5])
            if exact { #expect(result.toFloats() == reference.toFloats()) } else { #expect(Compare.maxAbs(result, reference) < 1e-5) }
        }
        // A requested transpose stays a node of its own; the scales still fold.
        let kept = GraphOptimizer.optimize(g, protected: [y, kT])
        #expect(kept.nodes.count == 2 && kept.nodes.contains { $0.op is Transpose })
        #expect((kept.nodes.last?.op as? ScaledMatMul).map { $0.transpose == nil && $0.scalesLeft && $0.scalesRight } == true)
    }

    @Test("ScaledMatMul VJP, scales and transpose each on or off", arguments: [(true, true, true), (false, true, true), (true, false, false), (false, false, true)])
    func scaledMatMulVJP(_ left: Bool, _ right: Bool, _ transposed: Bool) throws {
        var rng = SplitMix(seed: 46)
        let op = ScaledMatMul(scalesLeft: left, scalesRight: right, transpose: transposed ? Transpose(perm: [0, 2, 1]) : nil)
        let inputs = [rng.tensor([2, 3, 4]), rng.tensor(transposed ? [2, 5, 4] : [2, 4, 5]),
                      Tensor(shape: [1], floats: [0.8]), Tensor(shape: [], floats: [-1.3])]
        let checked = [0, 1] + (left ? [2] : []) + (right ? [3] : [])
        #expect(try check.maxError(op, inputs: inputs, check: checked) < 1e-2)
    }

    // MARK: Softmax

    /// Rows as attention produces them (long and short, wide ranges, −∞ for masked keys)
    /// against softmax in double.
    @Test func softmaxRowsMatchDouble() throws {
        var rng = SplitMix(seed: 39)
        for (rows, n, spread) in [(6, 197, Float(30)), (5, 7, 80), (3, 1, 5), (4, 33, 0.001)] {
            var x = rng.tensor([rows, n], -spread, spread).toFloats()
            if n > 2 { x[1] = -.infinity }
            let y = try Softmax(axis: -1).forward([Tensor(shape: [rows, n], floats: x)])[0].toFloats()
            for r in 0..<rows {
                let row = x[(r * n)..<((r + 1) * n)].map(Double.init)
                let m = row.max()!
                let e = row.map { Foundation.exp($0 - m) }
                let sum = e.reduce(0, +)
                for j in 0..<n {
                    let expected = e[j] / sum
                    // 1e-6 relative; below 1e-6 the rounding of x − max in float32 (an ulp of 50
                    // is 4e-6) dominates, and 1e-12 absolute is the bound.
                    #expect(Swift.abs(Double(y[r * n + j]) - expected) <= 1e-6 * expected + 1e-12,
                            "row \(r) column \(j): \(y[r * n + j]) vs \(expected)")
                }
            }
        }
        // Weights that would be subnormal are 0: a subnormal slows every product it enters
        // (AblationCAM's −1e7 ablation values made DeiT's attention 3.4× slower).
        let tiny = try Softmax(axis: -1).forward([Tensor(shape: [1, 4], floats: [0, -1e7, -100, -90])])[0].toFloats()
        #expect(tiny[0] == 1 && tiny[1...].allSatisfy { $0 == 0 })
        let withNaN = try Softmax(axis: -1).forward([Tensor(shape: [1, 3], floats: [0, .nan, 1])])[0].toFloats()
        #expect(withNaN.allSatisfy { $0.isNaN })
    }

    // MARK: Tile

    @Test func tile() throws {
        var rng = SplitMix(seed: 34)
        let x = rng.tensor([2, 1, 3])
        let y = try Tile().forward([x, int64s([2, 3, 1])])[0]
        #expect(y.shape == [4, 3, 3])
        #expect(y.floats[(3 * 3 + 2) * 3 + 1] == x.floats[(1 * 1 + 0) * 3 + 1])
        #expect(try check.maxError(Tile(), inputs: [x, int64s([2, 3, 2])], check: [0]) < 1e-2)
        let g = rng.tensor([4, 3, 6])
        #expect(try check.maxError(TileBackward(), inputs: [g, x, int64s([2, 3, 2])], check: [0]) < 1e-2)
        #expect(throws: CAMError.self) { try Tile().forward([x, int64s([2, 3])]) }
    }

    // MARK: The forms ViT / DeiT / Swin graphs contain

    @Test func attentionShapedOperators() throws {
        var rng = SplitMix(seed: 35)
        // qkv projection: (B, T, C) · (C, 3C), the weight broadcast over the batch.
        #expect(try check.maxError(MatMul(), inputs: [rng.tensor([2, 5, 4]), rng.tensor([4, 6])], check: [0, 1]) < 1e-2)
        // q · kᵀ per head: (B, heads, T, d) · (B, heads, d, T).
        #expect(try check.maxError(MatMul(), inputs: [rng.tensor([2, 2, 3, 4]), rng.tensor([2, 2, 4, 3])], check: [0, 1]) < 1e-2)
        // Softmax over the keys, and over other axes.
        for axis in [-1, 0, 2] {
            #expect(try check.maxError(Softmax(axis: axis), inputs: [rng.tensor([2, 3, 4], -2, 2)], check: [0]) < 1e-2)
        }
        // (B, T, 3, heads, d) → (3, B, heads, T, d), then split into q, k, v and squeezed.
        let qkv = rng.tensor([2, 3, 3, 2, 2])
        #expect(try check.maxError(Transpose(perm: [2, 0, 3, 1, 4]), inputs: [qkv], check: [0]) < 1e-2)
        let stacked = rng.tensor([3, 2, 2, 3, 2])
        for k in 0..<3 {
            #expect(try check.maxError(Split(axis: 0, numOutputs: 3), inputs: [stacked, int64s([1, 1, 1])], check: [0], outputIndex: k, outputs: 3) < 1e-2)
        }
        #expect(try check.maxError(Split(axis: 0, numOutputs: 3), inputs: [stacked], check: [0], outputIndex: 2, outputs: 3) < 1e-2)
        #expect(try check.maxError(Squeeze(), inputs: [rng.tensor([1, 2, 3]), int64s([0])], check: [0]) < 1e-2)
        // The class token: Expand (1, 1, C) to (B, 1, C), Concat with the patches.
        #expect(try check.maxError(Expand(), inputs: [rng.tensor([1, 1, 4]), int64s([3, 1, 1])], check: [0]) < 1e-2)
        #expect(try check.maxError(Concat(axis: 1), inputs: [rng.tensor([3, 1, 4]), rng.tensor([3, 6, 4])], check: [0, 1]) < 1e-2)
        // The head reads token 0: Gather with a scalar index on axis 1.
        let tokens = rng.tensor([2, 5, 3])
        let head = try Gather(axis: 1).forward([tokens, Tensor(shape: [], int64s: [0])])[0]
        #expect(head.shape == [2, 3])
        #expect(try check.maxError(Gather(axis: 1), inputs: [tokens, Tensor(shape: [], int64s: [0])], check: [0]) < 1e-2)
        // Dropping the class token: Slice from 1 to the end.
        #expect(try check.maxError(Slice(), inputs: [tokens, int64s([1]), int64s([Int(Int64.max)]), int64s([1])], check: [0]) < 1e-2)
        // Where with a broadcast condition (attention masks, the dynamic Expand shape).
        let cond = Tensor(shape: [1, 5, 1], bools: [true, false, true, true, false])
        #expect(try check.maxError(Where(), inputs: [cond, tokens, rng.tensor([3])], check: [1, 2]) < 1e-2)
        // GELU, exact (Erf) and fused.
        #expect(try check.maxError(Unary(.erf), inputs: [rng.tensor([2, 5], -2, 2)], check: [0]) < 1e-2)
        #expect(try check.maxError(Unary(.gelu), inputs: [rng.tensor([2, 5], -2, 2)], check: [0]) < 1e-2)
        // Swin's window padding and the cyclic shift's pieces.
        #expect(try check.maxError(Pad(), inputs: [rng.tensor([1, 3, 3, 2]), int64s([0, 0, 0, 0, 0, 1, 1, 0])], check: [0]) < 1e-2)
    }

    @Test func dynamicBatchShapeArithmetic() throws {
        // Shape → Gather(0) → Unsqueeze → Concat([B, -1, -1]) → Where(== -1, 1, ·) → Expand,
        // as the exporter writes the class-token broadcast for a dynamic batch.
        let tokens = Tensor(zeros: [3, 4, 2])
        let shape = try ShapeOf().forward([tokens])[0]
        let batch = try Gather(axis: 0).forward([shape, Tensor(shape: [], int64s: [0])])[0]
        #expect(batch.shape == [] && batch.int64s[0] == 3)
        let b1 = try Unsqueeze().forward([batch, int64s([0])])[0]
        let target = try Concat(axis: 0).forward([b1, int64s([-1]), int64s([-1])])[0]
        let ones = try ConstantOfShape(value: Tensor(shape: [1], int64s: [1])).forward([int64s([3])])[0]
        let minusOnes = try Binary(.mul).forward([ones, Tensor(shape: [], int64s: [-1])])[0]
        let isMinus = try CAMCore.Compare(.equal).forward([target, minusOnes])[0]
        let fixed = try Where().forward([isMinus, ones, target])[0]
        #expect(fixed.toInt64s() == [3, 1, 1])
        let cls = try Expand().forward([Tensor(shape: [1, 1, 2], floats: [5, 6]), fixed])[0]
        #expect(cls.shape == [3, 1, 2] && cls.toFloats() == [5, 6, 5, 6, 5, 6])
        let range = try Arange().forward([Tensor(shape: [], int64s: [0]), batch, Tensor(shape: [], int64s: [1])])[0]
        #expect(range.toInt64s() == [0, 1, 2])
        let asFloat = try Cast(to: .float32).forward([batch])[0]
        #expect(asFloat.dtype == .float32 && asFloat.floats[0] == 3)
    }
}
