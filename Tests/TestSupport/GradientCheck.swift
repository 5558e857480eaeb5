import CAMCore

/// Checks an operator's VJP against central finite differences.
///
/// The graph is `y = op(inputs)` and the scalar is `L = Σ r ⊙ y` for a fixed random `r`;
/// the analytic gradient of `L` with respect to each checked input is compared with
/// `(L(x + εeᵢ) − L(x − εeᵢ)) / 2ε` for every element. The runtime is float32, so the
/// comparison tolerance is relative to the gradient's largest magnitude: `tolerance`.
public struct GradientCheck {
    public init(epsilon: Float = 1e-2, tolerance: Float = 1e-2) { self.epsilon = epsilon; self.tolerance = tolerance }
    public var epsilon: Float
    public var tolerance: Float

    /// The largest |analytic − numeric| / max(1, max |numeric|) over all checked inputs.
    public func maxError(_ op: any Operator, inputs: [Tensor], check: [Int], outputIndex: Int = 0, outputs: Int = 1, seed: UInt64 = 7) throws -> Float {
        var graph = Graph()
        let ids = try inputs.indices.map { try graph.addValue("x\($0)") }
        graph.inputs = ids
        let outs = try (0..<outputs).map { try graph.addValue("y\($0)") }
        graph.nodes = [Node(name: "op", op: op, inputs: ids, outputs: outs)]
        graph.outputs = [outs[outputIndex]]
        let executor = try Executor(graph)
        let feeds = Dictionary(uniqueKeysWithValues: zip(ids, inputs))
        let y = try executor.evaluate(feeds, fetch: [outs[outputIndex]])[0]
        var rng = SplitMix(seed: seed)
        let r = Tensor(shape: y.shape, floats: (0..<y.count).map { _ in rng.uniform() * 2 - 1 })

        let gg = try Autodiff.differentiate(graph, outputs: [outs[outputIndex]], wrt: check.map { ids[$0] })
        let gExec = try Executor(gg.graph)
        var gFeeds = Dictionary(uniqueKeysWithValues: zip(ids, inputs))
        gFeeds[gg.seeds[0]] = r
        let analytic = try gExec.evaluate(gFeeds, fetch: gg.gradients.map { $0! })

        func loss(_ xs: [Tensor]) throws -> Double {
            let out = try executor.evaluate(Dictionary(uniqueKeysWithValues: zip(ids, xs)), fetch: [outs[outputIndex]])[0]
            var s = 0.0
            for i in 0..<out.count { s += Double(out.floats[i]) * Double(r.floats[i]) }
            return s
        }
        var worst: Float = 0
        for (k, input) in check.enumerated() {
            let x = inputs[input]
            var numeric = [Float](repeating: 0, count: x.count)
            for i in 0..<x.count {
                var plus = inputs, minus = inputs
                let xp = x.copy(), xm = x.copy()
                xp.mutableFloats[i] += epsilon
                xm.mutableFloats[i] -= epsilon
                plus[input] = xp
                minus[input] = xm
                numeric[i] = Float((try loss(plus) - loss(minus)) / Double(2 * epsilon))
            }
            let scale = Swift.max(1, numeric.map(abs).max() ?? 1)
            let exact = analytic[k].toFloats()
            for i in 0..<x.count {
                worst = Swift.max(worst, abs(exact[i] - numeric[i]) / scale)
            }
        }
        return worst
    }
}

/// A small deterministic generator for test data.
public struct SplitMix: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// A tensor of values in [lo, hi), kept at least `gap` away from `kinks` (where
    /// piecewise-linear functions are not differentiable).
    public mutating func tensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1, avoiding kinks: [Float] = [], gap: Float = 0.05) -> Tensor {
        let n = shape.reduce(1, *)
        var values: [Float] = []
        while values.count < n {
            let v = lo + (hi - lo) * uniform()
            if kinks.allSatisfy({ abs(v - $0) > gap }) { values.append(v) }
        }
        return Tensor(shape: shape, floats: values)
    }
}

public func int64s(_ v: [Int]) -> Tensor { Tensor(shape: [v.count], int64s: v.map(Int64.init)) }
