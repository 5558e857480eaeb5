import Testing
import CAMCore
import TestSupport

@Suite("Autodiff transform")
struct AutodiffTests {
    /// y = relu(conv(x)); z = gap(y); out = gemm(z). Gradients go only down to `y`.
    func smallNet() throws -> (Graph, [String: ValueID]) {
        var rng = SplitMix(seed: 21)
        var g = Graph()
        let x = try g.addValue("x")
        g.inputs = [x]
        let w = g.addConstant("w", rng.tensor([4, 3, 3, 3]))
        let c = try g.addValue("conv"), y = try g.addValue("relu"), z = try g.addValue("gap"), f = try g.addValue("flat"), o = try g.addValue("out")
        let fc = g.addConstant("fc", rng.tensor([4, 5]))
        g.nodes = [
            Node(name: "conv", op: Convolution(padding: .explicit([1, 1, 1, 1])), inputs: [x, w], outputs: [c]),
            Node(name: "relu", op: Unary(.relu), inputs: [c], outputs: [y]),
            Node(name: "gap", op: GlobalPool(.average), inputs: [y], outputs: [z]),
            Node(name: "flat", op: Flatten(), inputs: [z], outputs: [f]),
            Node(name: "fc", op: MatMul(), inputs: [f, fc], outputs: [o]),
        ]
        g.outputs = [o]
        return (g, ["x": x, "conv": c, "relu": y, "out": o])
    }

    @Test func backwardStopsAtTheRequestedTensor() throws {
        let (g, v) = try smallNet()
        let gg = try Autodiff.differentiate(g, outputs: [v["out"]!], wrt: [v["relu"]!])
        let added = gg.graph.nodes.dropFirst(g.nodes.count)
        // Nothing below relu is differentiated: no convolution backward, no relu backward.
        #expect(!added.contains { $0.op is ConvBackwardData })
        #expect(!added.contains { $0.op is UnaryDerivative })
        #expect(added.contains { $0.op is GlobalAveragePoolBackward })
    }

    @Test func gradientProgramMatchesManualChainRule() throws {
        let (g, v) = try smallNet()
        let model = try Model(graph: g, source: "test")
        var rng = SplitMix(seed: 22)
        let x = rng.tensor([2, 3, 5, 5])
        let program = try model.gradientProgram(outputs: g.outputs, wrt: [v["relu"]!], capture: [v["relu"]!])
        let pass = try program.forward([x])
        let seed = Tensor(shape: [2, 5], floats: [1, 0, 0, 0, 0, 0, 0, 1, 0, 0])
        let grad = try pass.backward(seeds: [seed])[0]
        // d out[n, k] / d relu[n, c, i, j] = fc[c, k] / 25
        let fc = g.constants[g.id(named: "fc")!]!
        for n in 0..<2 {
            let k = n == 0 ? 0 : 2
            for c in 0..<4 {
                let expected = fc.floats[c * 5 + k] / 25
                for p in 0..<25 { #expect(abs(grad.floats[(n * 4 + c) * 25 + p] - expected) < 1e-6) }
            }
        }
    }

    @Test func hessianVectorProductThroughSmoothHead() throws {
        // f(a) = Σ softmax(tanh(a) · W)[k]; HVP = ∂(∇f · v)/∂a by differentiating twice,
        // checked against finite differences of the gradient.
        var rng = SplitMix(seed: 23)
        var g = Graph()
        let a = try g.addValue("a")
        g.inputs = [a]
        let w = g.addConstant("w", rng.tensor([4, 3]))
        let t = try g.addValue("t"), m = try g.addValue("m"), s = try g.addValue("s")
        g.nodes = [
            Node(name: "tanh", op: Unary(.tanh), inputs: [a], outputs: [t]),
            Node(name: "mm", op: MatMul(), inputs: [t, w], outputs: [m]),
            Node(name: "sm", op: Softmax(axis: -1), inputs: [m], outputs: [s]),
        ]
        g.outputs = [s]
        let first = try Autodiff.differentiate(g, outputs: [s], wrt: [a])
        // Second pass: differentiate ⟨∇f, v⟩ with respect to a, with v a fixed input.
        var g2 = first.graph
        let v = try g2.addValue("v")
        let dot = try g2.addValue("dot")
        g2.nodes.append(Node(name: "dot", op: Binary(.mul), inputs: [first.gradients[0]!, v], outputs: [dot]))
        let second = try Autodiff.differentiate(g2, outputs: [dot], wrt: [a])
        let exec = try Executor(second.graph)
        let x = rng.tensor([2, 4], -1, 1), vv = rng.tensor([2, 4])
        let seed = Tensor(shape: [2, 3], floats: [0, 1, 0, 1, 0, 0])
        let hvp = try exec.evaluate([a: x, v: vv, first.seeds[0]: seed, second.seeds[0]: Tensor(repeating: 1, shape: [2, 4])], fetch: [second.gradients[0]!])[0]
        // Finite differences of the gradient along v... per element: H v = d/dε ∇f(a + ε v) — but
        // here we differentiate ⟨∇f, v⟩ w.r.t. a, which is H v (H symmetric).
        let e1 = try Executor(first.graph)
        func grad(_ at: Tensor) throws -> Tensor { try e1.evaluate([a: at, first.seeds[0]: seed], fetch: [first.gradients[0]!])[0] }
        let eps: Float = 1e-2
        let plus = Tensor(shape: x.shape, floats: zip(x.floats, vv.floats).map { $0 + eps * $1 })
        let minus = Tensor(shape: x.shape, floats: zip(x.floats, vv.floats).map { $0 - eps * $1 })
        let gp = try grad(plus), gm = try grad(minus)
        for i in 0..<x.count {
            let numeric = (gp.floats[i] - gm.floats[i]) / (2 * eps)
            #expect(abs(numeric - hvp.floats[i]) < 2e-3)
        }
    }
}
