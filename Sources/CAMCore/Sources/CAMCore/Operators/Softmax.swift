import Foundation
internal import CKernels

/// `Softmax(x; axis)` and `LogSoftmax(x; axis)` along one axis (opset-13 semantics).
/// Their gradients are composed of differentiable operators, so they differentiate twice.
public struct Softmax: Operator {
    public let axis: Int
    public let log: Bool
    public init(axis: Int = -1, log: Bool = false) { self.axis = axis; self.log = log }
    public var name: String { log ? "LogSoftmax" : "Softmax" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.dtype == .float32 else { throw CAMError(.invalidModel, "\(name) needs a float32 input") }
        let a = try normalizeAxes([axis], rank: Swift.max(x.rank, 1), op: name)[0]
        let dims = x.rank == 0 ? [1] : x.shape
        let n = dims[a], inner = dims[(a + 1)...].reduce(1, *), outer = dims[..<a].reduce(1, *)
        let out = Tensor(uninitialized: x.shape)
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let isLog = log
        if inner == 1 && !isLog && n > 0 {
            // Softmax over contiguous rows (attention scores): unit-stride loops.
            parallelFor(outer, grain: Swift.max(1, 4096 / n)) { r in
                ck_softmax_rows(px + r.lowerBound * n, po + r.lowerBound * n, r.count, n)
            }
            withExtendedLifetime((x, out)) {}
            return [out]
        }
        parallelFor(outer * inner, grain: 64) { r in
            for idx in r {
                let o = idx / inner, i = idx % inner
                let base = o * n * inner + i
                var m = -Float.infinity
                for j in 0..<n { m = Swift.max(m, px[base + j * inner]) }
                var sum: Float = 0
                if isLog {
                    for j in 0..<n { sum += Foundation.exp(px[base + j * inner] - m) }
                    let ls = Foundation.log(sum)
                    for j in 0..<n { po[base + j * inner] = px[base + j * inner] - m - ls }
                } else {
                    // One exp per element: keep them in the output, then scale.
                    for j in 0..<n {
                        let e = Foundation.exp(px[base + j * inner] - m)
                        po[base + j * inner] = e
                        sum += e
                    }
                    let scale = 1 / sum
                    for j in 0..<n { po[base + j * inner] *= scale }
                }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil] }
        let y = node.outputs[0]
        let axes = b.constant(Tensor(shape: [1], int64s: [Int64(axis)]))
        if log {
            // dx = g − softmax(x) · Σ g
            let total = b.apply(Reduce(.sum, keepDims: true), [g, axes], outputs: 1)[0]
            return [b.sub(g, b.mul(b.apply(Unary(.exp), y), total))]
        }
        // dx = y · (g − Σ g·y)
        let dot = b.apply(Reduce(.sum, keepDims: true), [b.mul(g, y), axes], outputs: 1)[0]
        return [b.mul(y, b.sub(g, dot))]
    }
}
