import Foundation

/// `BatchNormalization(x, scale, B, mean, var)` at inference:
/// `y = (x − mean) / √(var + ε) · scale + B` per channel (axis 1).
public struct BatchNormalization: Operator {
    public let epsilon: Float
    public init(epsilon: Float = 1e-5) { self.epsilon = epsilon }
    public var name: String { "BatchNormalization" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    /// Per-channel multiplier `scale / √(var + ε)`.
    static func multiplier(_ scale: Tensor, _ variance: Tensor, epsilon: Float) -> [Float] {
        zip(scale.floats, variance.floats).map { s, v in s / (v + epsilon).squareRoot() }
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 5, let x = inputs[0], let scale = inputs[1], let bias = inputs[2], let mean = inputs[3], let variance = inputs[4] else {
            throw CAMError(.invalidModel, "BatchNormalization takes (x, scale, B, mean, var)")
        }
        guard x.rank >= 2 else { throw CAMError(.runtime, "BatchNormalization: input \(x.shape) has no channel axis") }
        let c = x.shape[1]
        guard [scale, bias, mean, variance].allSatisfy({ $0.count == c && $0.dtype == .float32 }) else {
            throw CAMError(.runtime, "BatchNormalization: scale, B, mean and var must each hold \(c) float32 values (one per channel)")
        }
        let mul = Self.multiplier(scale, variance, epsilon: epsilon)
        let add = (0..<c).map { bias.floats[$0] - mean.floats[$0] * mul[$0] }
        let out = Tensor(uninitialized: x.shape)
        let n = x.shape[0], plane = x.count / Swift.max(n * c, 1)
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        parallelFor(n * c, grain: Swift.max(1, 16384 / Swift.max(plane, 1))) { r in
            for i in r {
                let m = mul[i % c], a = add[i % c]
                let s = px + i * plane, d = po + i * plane
                for j in 0..<plane { d[j] = s[j] * m + a }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        return [b.apply(BatchNormalizationBackward(epsilon: epsilon), g, try node.input(1), try node.input(4))] + node.inputs.dropFirst().map { _ in nil }
    }
}

/// Backward of inference BatchNormalization: inputs (g, scale, var); `g · scale / √(var + ε)`
/// per channel. Linear in g, so it is its own VJP.
public struct BatchNormalizationBackward: Operator {
    public let epsilon: Float
    public init(epsilon: Float) { self.epsilon = epsilon }
    public var name: String { "BatchNormalizationBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let g = inputs[0], let scale = inputs[1], let variance = inputs[2] else {
            throw CAMError(.invalidModel, "BatchNormalizationBackward takes (g, scale, var)")
        }
        let c = g.shape[1]
        let mul = BatchNormalization.multiplier(scale, variance, epsilon: epsilon)
        let out = Tensor(uninitialized: g.shape)
        let n = g.shape[0], plane = g.count / Swift.max(n * c, 1)
        let pg = g.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        for i in 0..<(n * c) {
            let m = mul[i % c]
            for j in 0..<plane { po[i * plane + j] = pg[i * plane + j] * m }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil, nil] }
        return [b.apply(self, gg, try node.input(1), try node.input(2)), nil, nil]
    }
}
