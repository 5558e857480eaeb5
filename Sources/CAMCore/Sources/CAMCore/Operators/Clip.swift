/// `Clip(x, min?, max?)`: clamps to [min, max] (ReLU6 is `Clip(x, 0, 6)`).
public struct Clip: Operator {
    public init() {}
    public var name: String { "Clip" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    static func bounds(_ inputs: [Tensor?]) throws -> (Float, Float) {
        func scalar(_ i: Int, _ dflt: Float) throws -> Float {
            guard inputs.count > i, let t = inputs[i] else { return dflt }
            guard t.count == 1 else { throw CAMError(.invalidModel, "Clip: bound \(i) must be a scalar, got shape \(t.shape)") }
            return t.toFloats()[0]
        }
        return (try scalar(1, -.infinity), try scalar(2, .infinity))
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Clip needs an input") }
        let (lo, hi) = try Clip.bounds(inputs)
        if x.dtype == .int64 {
            return [Tensor(shape: x.shape, int64s: x.int64s.map { Swift.min(Swift.max($0, Int64(lo.rounded(.up).clamped)), Int64(hi.rounded(.down).clamped)) })]
        }
        return [mapFloats(x) { $0.isNaN ? $0 : Swift.min(Swift.max($0, lo), hi) }]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil, nil] }
        var ins: [ValueID?] = [g]
        ins.append(contentsOf: node.inputs)
        return [b.apply(ClipDerivative(), ins, outputs: 1)[0], nil, nil]
    }
}

/// Backward of `Clip`: `g` where `min < x < max` (strict, as PyTorch's hardtanh/ReLU6), else 0.
public struct ClipDerivative: Operator {
    public init() {}
    public var name: String { "ClipDerivative" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "ClipDerivative takes (g, x, min, max)") }
        let (lo, hi) = try Clip.bounds(Array(inputs.dropFirst()))
        return [mapFloats(g, x) { g, x in x > lo && x < hi ? g : 0 }]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return node.inputs.map { _ in nil } }
        var ins: [ValueID?] = [gg]
        ins.append(contentsOf: node.inputs.dropFirst())
        var out: [ValueID?] = [b.apply(ClipDerivative(), ins, outputs: 1)[0]]
        out.append(contentsOf: node.inputs.dropFirst().map { _ in nil })
        return out
    }
}

extension Float {
    /// Clamped into Int64's range, so conversions never trap.
    var clamped: Double { Swift.min(Swift.max(Double(self), -9.2e18), 9.2e18) }
}
