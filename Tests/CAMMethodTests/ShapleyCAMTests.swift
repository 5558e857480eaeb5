import CAMCore
import Foundation
import Testing
import TestSupport

/// ShapleyCAM's Hessian–vector product, checked where it matters: on a head that is not
/// piecewise linear (GELU, softmax inside ClassifierOutputReST), against float64 finite
/// differences of an independent double-precision implementation of the same head.
@Suite("ShapleyCAM second order")
struct ShapleyCAMTests {
    /// x → Conv → A (the target layer) → GELU → GlobalAveragePool → Flatten → Gemm → logits.
    static func smoothModel() throws -> (Model, w: [Float], conv: Tensor) {
        var rng = SplitMix(seed: 41)
        var g = Graph()
        let x = try g.addValue("x")
        g.inputs = [x]
        let k = rng.tensor([4, 2, 3, 3])
        let kernel = g.addConstant("k", k)
        let fc = rng.tensor([4, 3], -2, 2)
        let w = g.addConstant("w", fc)
        let a = try g.addValue("A"), gelu = try g.addValue("gelu"), gap = try g.addValue("gap"), flat = try g.addValue("flat"), logits = try g.addValue("logits")
        g.nodes = [
            Node(name: "conv", op: Convolution(padding: .explicit([1, 1, 1, 1])), inputs: [x, kernel], outputs: [a]),
            Node(name: "gelu", op: Unary(.gelu), inputs: [a], outputs: [gelu]),
            Node(name: "gap", op: GlobalPool(.average), inputs: [gelu], outputs: [gap]),
            Node(name: "flat", op: Flatten(), inputs: [gap], outputs: [flat]),
            Node(name: "fc", op: Gemm(), inputs: [flat, w], outputs: [logits]),
        ]
        g.outputs = [logits]
        return (try Model(graph: g, source: "smooth"), fc.toFloats(), k)
    }

    /// The head in double precision: ReST(category) of Gemm(GAP(GELU(A))) for one image.
    static func head(_ a: [Double], channels: Int, plane: Int, w: [Float], category: Int) -> Double {
        let gelu = a.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        let pooled = (0..<channels).map { c in gelu[(c * plane)..<((c + 1) * plane)].reduce(0, +) / Double(plane) }
        let classes = w.count / channels
        let z = (0..<classes).map { j in (0..<channels).reduce(0.0) { $0 + pooled[$1] * Double(w[$1 * classes + j]) } }
        let m = z.max()!
        let logSumExp = m + log(z.reduce(0) { $0 + exp($1 - m) })
        return z[category] - (logSumExp - z[category])
    }

    @Test func hessianVectorProductMatchesFloat64FiniteDifferences() throws {
        let (model, w, _) = try Self.smoothModel()
        var rng = SplitMix(seed: 42)
        let input = rng.tensor([2, 2, 5, 5])
        let layer = model.graph.id(named: "A")!
        let targets = [ClassifierOutputReST(category: 1), ClassifierOutputReST(category: 2)]
        let r = try HessianVectorProduct.compute(model: model, input: input, layers: [layer], targets: targets)
        let a = r.values[0]
        let (channels, plane) = (a.shape[1], a.shape[2] * a.shape[3])
        for i in 0..<2 {
            let ai = a.batchItem(i).toFloats().map(Double.init)
            let f = { (b: [Double]) in Self.head(b, channels: channels, plane: plane, w: w, category: targets[i].category) }
            let d = 1e-4, e = 1e-4
            func grad(_ b: [Double], _ j: Int) -> Double {
                var p = b, m = b
                p[j] += d; m[j] -= d
                return (f(p) - f(m)) / (2 * d)
            }
            let plus = zip(ai, ai).map { $0 + e * $1 }, minus = zip(ai, ai).map { $0 - e * $1 }
            let hvp = r.hessianVectorProducts[0].batchItem(i).toFloats()
            let g = r.gradients[0].batchItem(i).toFloats()
            let scale = hvp.map { abs(Double($0)) }.max()!
            #expect(scale > 1e-4, "the head must have a real second-order term")
            for j in ai.indices {
                let reference = (grad(plus, j) - grad(minus, j)) / (2 * e)
                #expect(abs(Double(hvp[j]) - reference) <= 1e-3 * scale, "image \(i), element \(j): H·A \(hvp[j]) vs \(reference)")
                #expect(abs(Double(g[j]) - grad(ai, j)) <= 1e-4 * max(1, abs(grad(ai, j))), "image \(i), element \(j): gradient")
            }
        }
    }

    @Test func shapleyCAMWithReSTDiffersFromGradCAMAsTheSecondOrderTermSays() throws {
        let (model, _, _) = try Self.smoothModel()
        Fixtures.loadPlugins()
        var rng = SplitMix(seed: 43)
        let input = rng.tensor([2, 2, 5, 5])
        let rest = PluginRegistry.shared.target(named: "classifier-rest")!
        func run(_ method: String) throws -> CAMResult {
            try CAMExplainer(model: model).explain(input, CAMRequest(method: try PluginRegistry.shared.method(named: method), targetLayers: ["A"],
                                                                    targetFactory: rest, categories: [1, 2]))
        }
        let shapley = try run("shapleycam"), grad = try run("gradcam")
        let h = shapley.layers[0].hessianVectorProduct!
        let expected = try CAMMath.combine(try CAMMath.spatialMean(grad.layers[0].gradients!), try CAMMath.spatialMean(h)) { g, hv in g - 0.5 * hv }
        #expect(Compare.relative(shapley.layerMaps[0].weights!, expected) <= 1e-5)
        #expect(Compare.maxAbs(shapley.layerMaps[0].weights!, grad.layerMaps[0].weights!) > 1e-3, "ReST makes the second-order term non-zero")
    }

    @Test func reSTTargetGradientMatchesItsGraph() throws {
        var rng = SplitMix(seed: 44)
        let z = rng.tensor([7], -3, 3)
        let t = ClassifierOutputReST(category: 4)
        let analytic = try t.evaluate(outputs: [z])
        struct ViaGraph: GraphTarget {
            let inner: ClassifierOutputReST
            var description: String { "graph" }
            func score(_ b: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID { try inner.score(&b, outputs: outputs) }
        }
        let graph = try ViaGraph(inner: t).evaluate(outputs: [z])
        #expect(abs(analytic.value - graph.value) < 1e-5)
        #expect(Compare.maxAbs(analytic.outputGradients[0]!, graph.outputGradients[0]!) < 1e-5)
    }
}
