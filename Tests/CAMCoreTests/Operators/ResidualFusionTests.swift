import Testing
import CAMCore
import TestSupport

/// `Relu(Add(Conv(x), R))` fused into one convolution that adds R and clamps in its epilogue:
/// on every convolution path (Winograd, banded, batched small planes, one image, pointwise,
/// single-channel) the fused graph gives the unfused graph's values bit for bit, and the same
/// gradients for x and R.
@Suite("Residual Add fused into convolutions")
struct ResidualFusionTests {
    /// (input shape, output channels, kernel, stride, padding): one per convolution path.
    static let cases: [([Int], Int, Int, Int, Int)] = [
        ([1, 8, 20, 20], 8, 3, 1, 1),    // Winograd (3×3, stride 1, ≥ 64 tiles)
        ([1, 4, 40, 40], 6, 5, 1, 2),    // banded (output plane ≥ 1024 pixels)
        ([3, 5, 9, 9], 7, 3, 2, 1),      // small planes, a batch unfolded side by side
        ([1, 5, 9, 9], 7, 3, 1, 1),      // one image, im2col
        ([2, 6, 7, 7], 4, 1, 1, 0),      // pointwise, one GEMM per image
        ([2, 64, 4, 4], 64, 1, 1, 0),    // pointwise, weights large next to 16-pixel planes: unfolded
        ([2, 1, 9, 9], 1, 3, 1, 1),      // one channel in, one out: the depthwise kernel
    ]

    /// x → Conv(W, B) → Add(·, R) (R first when `residualFirst`) → Relu → y.
    static func graph(_ conv: Convolution, residualFirst: Bool, weights: Tensor, bias: Tensor) throws -> (Graph, ValueID, ValueID, ValueID) {
        var g = Graph()
        let x = try g.addValue("x"), r = try g.addValue("r")
        let convolved = try g.addValue("conv"), sum = try g.addValue("sum"), y = try g.addValue("y")
        let w = g.addConstant("W", weights), b = g.addConstant("B", bias)
        g.inputs = [x, r]
        g.nodes = [Node(name: "conv", op: conv, inputs: [x, w, b], outputs: [convolved]),
                   Node(name: "add", op: Binary(.add), inputs: residualFirst ? [r, convolved] : [convolved, r], outputs: [sum]),
                   Node(name: "relu", op: Unary(.relu), inputs: [sum], outputs: [y])]
        g.outputs = [y]
        return (g, x, r, y)
    }

    @Test(arguments: cases)
    func fusedEqualsUnfused(_ shape: [Int], _ m: Int, _ k: Int, _ stride: Int, _ pad: Int) throws {
        var rng = SplitMix(seed: UInt64(shape.reduce(0, +) * 13 + m))
        let conv = Convolution(strides: [stride, stride], padding: .explicit([pad, pad, pad, pad]))
        let (oh, ow) = ((shape[2] + 2 * pad - k) / stride + 1, (shape[3] + 2 * pad - k) / stride + 1)
        let x = rng.tensor(shape), r = rng.tensor([shape[0], m, oh, ow])
        for residualFirst in [false, true] {
            let (g, xID, rID, y) = try Self.graph(conv, residualFirst: residualFirst, weights: rng.tensor([m, shape[1], k, k]), bias: rng.tensor([m]))
            let fused = GraphOptimizer.optimize(g, protected: [y])
            #expect(fused.nodes.count == 1)
            let op = try #require(fused.nodes.first?.op as? Convolution)
            #expect(op.addsResidual && op.activation == .relu && op.name == "Conv+Add+Activation")
            let reference = try Executor(g).evaluate([xID: x, rID: r], fetch: [y])[0]
            let result = try Executor(fused).evaluate([xID: x, rID: r], fetch: [y])[0]
            #expect(result.shape == reference.shape && Compare.maxAbs(result, reference) == 0)

            // The same gradients for x and R, through the fused node's VJP.
            let plain = try Autodiff.differentiate(g, outputs: [y], wrt: [xID, rID])
            let optimized = try Autodiff.differentiate(fused, outputs: [y], wrt: [xID, rID])
            let seed = rng.tensor(reference.shape)
            let expected = try Executor(plain.graph).evaluate([xID: x, rID: r, plain.seeds[0]: seed], fetch: plain.gradients.map { $0! })
            let actual = try Executor(optimized.graph).evaluate([xID: x, rID: r, optimized.seeds[0]: seed], fetch: optimized.gradients.map { $0! })
            for (a, e) in zip(actual, expected) { #expect(Compare.maxAbs(a, e) < 1e-5) }
            // R alone (x needs none): the shortcut's gradient still flows.
            let plainR = try Autodiff.differentiate(g, outputs: [y], wrt: [rID])
            let optimizedR = try Autodiff.differentiate(fused, outputs: [y], wrt: [rID])
            let expectedR = try Executor(plainR.graph).evaluate([xID: x, rID: r, plainR.seeds[0]: seed], fetch: [plainR.gradients[0]!])[0]
            let actualR = try Executor(optimizedR.graph).evaluate([xID: x, rID: r, optimizedR.seeds[0]: seed], fetch: [try #require(optimizedR.gradients[0])])[0]
            #expect(Compare.maxAbs(actualR, expectedR) == 0)
        }
    }

    /// Nothing fuses when the convolution's output is read elsewhere or requested, or when
    /// the other operand is a constant (a bias, not a residual).
    @Test func onlyAPrivateConvolutionOutputFuses() throws {
        var rng = SplitMix(seed: 5)
        let (g, _, _, y) = try Self.graph(Convolution(), residualFirst: false, weights: rng.tensor([2, 2, 1, 1]), bias: rng.tensor([2]))
        let convolved = g.nodes[0].outputs[0]
        #expect(GraphOptimizer.optimize(g, protected: [y, convolved]).nodes.count == 3)
        var constant = g
        let c = constant.addConstant("C", rng.tensor([1, 2, 1, 1]))
        constant.nodes[1].inputs = [convolved, c]
        #expect(!GraphOptimizer.optimize(constant, protected: [y]).nodes.contains { ($0.op as? Convolution)?.addsResidual == true })
    }

    /// A residual that broadcasts against the output (shapes known only when the graph runs)
    /// still adds as the Add would.
    @Test func aBroadcastResidualIsAddedAsTheAddWould() throws {
        var rng = SplitMix(seed: 6)
        let conv = Convolution(padding: .explicit([1, 1, 1, 1]), activation: .relu).addingResidual()
        let x = rng.tensor([2, 3, 6, 6]), w = rng.tensor([4, 3, 3, 3]), r = rng.tensor([1, 4, 1, 1])
        let y = try conv.forward([x, w, nil, r])[0]
        let expected = try Unary(.relu).forward([try Binary(.add).forward([try Convolution(padding: .explicit([1, 1, 1, 1])).forward([x, w])[0], r])[0]])[0]
        #expect(y.shape == [2, 4, 6, 6] && Compare.maxAbs(y, expected) == 0)
    }
}
