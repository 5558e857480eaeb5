/// ReduceSum, ReduceMean, ReduceMax, ReduceMin over `axes` (an optional int64 input, as in
/// opset 18), with `keepdims` and `noop_with_empty_axes`.
public struct Reduce: Operator {
    public enum Kind: String, Sendable { case sum = "ReduceSum", mean = "ReduceMean", max = "ReduceMax", min = "ReduceMin" }
    public let kind: Kind
    public let keepDims: Bool
    public let noopWithEmptyAxes: Bool

    public init(_ kind: Kind, keepDims: Bool = true, noopWithEmptyAxes: Bool = false) {
        self.kind = kind
        self.keepDims = keepDims
        self.noopWithEmptyAxes = noopWithEmptyAxes
    }
    public var name: String { kind.rawValue }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    /// The reduced axes for input `x` given the optional axes tensor.
    func axes(_ x: Tensor, _ axesTensor: Tensor?) throws -> [Int]? {
        let given = axesTensor.map { $0.toInt64s().map(Int.init) } ?? []
        if given.isEmpty { return noopWithEmptyAxes ? nil : Array(0..<x.rank) }
        return try normalizeAxes(given, rank: x.rank, op: name)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "\(name) needs an input") }
        guard x.dtype == .float32 else { throw CAMError(.unsupported, "\(name) of \(x.dtype) is not supported") }
        guard let axes = try axes(x, inputs.count > 1 ? inputs[1] : nil) else { return [x] }
        var kept = x.shape
        for a in axes { kept[a] = 1 }
        let outShape = keepDims ? kept : x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
        let result: Tensor
        switch kind {
        case .sum: result = try sumToShape(x, kept)
        case .mean:
            let s = try sumToShape(x, kept)
            let count = Float(axes.reduce(1) { $0 * x.shape[$1] })
            result = mapFloats(s) { $0 / count }
        case .max, .min:
            let isMax = kind == .max
            guard axes.allSatisfy({ x.shape[$0] > 0 }) else { throw CAMError(.runtime, "\(name) over an empty axis") }
            result = Tensor(repeating: isMax ? -.infinity : .infinity, shape: kept)
            let po = result.mutableFloats.baseAddress!, px = x.floats.baseAddress!
            let loop = BroadcastLoop(outShape: x.shape, operandShapes: [kept])
            let n = loop.innerCount, s = loop.strides[0].last!
            loop.forEachRun(0..<loop.outerCount) { run, offs in
                for i in 0..<n {
                    let v = px[run * n + i]
                    let d = po + offs[0] + i * s
                    if isMax ? (v > d[0] || v.isNaN) : (v < d[0] || v.isNaN) { d[0] = v }
                }
            }
        }
        return [result.reshaped(to: outShape)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil] }
        let x = try node.input(0)
        let axes = node.inputs.count > 1 ? node.inputs[1] : nil
        switch kind {
        case .sum, .mean:
            return [b.apply(ReduceBackward(self), [g, x, axes], outputs: 1)[0], nil]
        case .max, .min:
            // The gradient goes to every element equal to the extremum.
            let expanded = b.apply(ReduceBackward(Reduce(.sum, keepDims: keepDims, noopWithEmptyAxes: noopWithEmptyAxes)), [node.outputs[0], x, axes], outputs: 1)[0]
            let mask = b.apply(Compare(.equal), x, expanded)
            let spread = b.apply(ReduceBackward(Reduce(.sum, keepDims: keepDims, noopWithEmptyAxes: noopWithEmptyAxes)), [g, x, axes], outputs: 1)[0]
            let zero = b.constant(Tensor(scalar: 0))
            return [b.apply(Where(), mask, spread, zero), nil]
        }
    }
}

/// The backward of ReduceSum / ReduceMean: `g` broadcast back over the reduced axes of `x`
/// (divided by the reduced count for a mean).
public struct ReduceBackward: Operator {
    public let reduce: Reduce
    public init(_ reduce: Reduce) { self.reduce = reduce }
    public var name: String { reduce.name + "Backward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "\(name) takes (gradient, x, axes)") }
        guard let axes = try reduce.axes(x, inputs.count > 2 ? inputs[2] : nil) else { return [g] }
        var kept = x.shape
        for a in axes { kept[a] = 1 }
        var out = try broadcastTo(g.reshaped(to: kept), x.shape)
        if reduce.kind == .mean {
            let count = Float(axes.reduce(1) { $0 * x.shape[$1] })
            out = mapFloats(out) { $0 / count }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient, node.needsGradient[0] else { return [nil, nil, nil] }
        let axes = node.inputs.count > 2 ? node.inputs[2] : nil
        return [b.apply(reduce, [gg, axes], outputs: 1)[0], nil, nil]
    }
}

/// Sums `g` down to the shape of `like` (undoing a broadcast). Backward of broadcasting ops.
public struct SumToShapeOf: Operator {
    public init() {}
    public var name: String { "SumToShapeOf" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let g = inputs[0], let like = inputs[1] else { throw CAMError(.invalidModel, "SumToShapeOf takes (g, like)") }
        return [try sumToShape(g, like.shape)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        return [b.apply(BroadcastToShapeOf(), gg, try node.input(0)), nil]
    }
}

/// Broadcasts `x` to the shape of `like`. Backward of `SumToShapeOf`.
public struct BroadcastToShapeOf: Operator {
    public init() {}
    public var name: String { "BroadcastToShapeOf" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0], let like = inputs[1] else { throw CAMError(.invalidModel, "BroadcastToShapeOf takes (x, like)") }
        return [try broadcastTo(x, like.shape)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        return [b.unbroadcast(gg, like: try node.input(0)), nil]
    }
}

/// `g` reshaped to the run-time shape of `like`: the backward of every reshaping op.
public struct ReshapeLike: Operator {
    public init() {}
    public var name: String { "ReshapeLike" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let g = inputs[0], let like = inputs[1], g.count == like.count else {
            throw CAMError(.runtime, "ReshapeLike: element counts differ")
        }
        return [g.reshaped(to: like.shape)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        return [b.reshape(gg, like: try node.input(0)), nil]
    }
}
