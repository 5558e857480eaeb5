/// Operators that only change shape or dtype, and the shape arithmetic exporters emit:
/// Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Expand, ConstantOfShape, Range, Cast,
/// Identity.

/// Reads an int64 (or int-valued) 1-D tensor as `[Int]`.
func intList(_ t: Tensor?, _ what: String) throws -> [Int] {
    guard let t else { throw CAMError(.invalidModel, "missing \(what)") }
    guard t.dtype != .float32 else { throw CAMError(.invalidModel, "\(what) must be an integer tensor, got float32") }
    return t.toInt64s().map { Int(clamping: $0) }
}

/// Checks that every dimension is non-negative, the element count does not overflow, and a
/// float32 tensor of this shape fits under `Runtime.maxMemory` — before anything is allocated.
func checkedShape(_ shape: [Int], _ op: String) throws -> [Int] {
    var n = 1
    for d in shape {
        guard d >= 0 else { throw CAMError(.runtime, "\(op): negative dimension in \(shape)") }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        guard !o else { throw CAMError(.runtime, "\(op): shape \(shape) overflows the element count") }
        n = p
    }
    try Runtime.checkAllocation(elements: n, what: "\(op): a tensor of shape \(shape)")
    return shape
}

/// `Shape(x)` (with opset-15 `start`/`end`) as int64.
public struct ShapeOf: Operator {
    public let start: Int
    public let end: Int?
    public init(start: Int = 0, end: Int? = nil) { self.start = start; self.end = end }
    public var name: String { "Shape" }
    public func isDifferentiable(input index: Int) -> Bool { false }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Shape needs an input") }
        return [selected(from: x.shape)]
    }

    /// The dimensions from start to end of `shape`, as this operator outputs them.
    func selected(from shape: [Int]) -> Tensor {
        let r = shape.count
        func clampAxis(_ a: Int) -> Int { Swift.min(Swift.max(a < 0 ? a + r : a, 0), r) }
        let s = clampAxis(start), e = clampAxis(end ?? r)
        let dims = s < e ? Array(shape[s..<e]) : []
        return Tensor(shape: [dims.count], int64s: dims.map(Int64.init))
    }
}

/// `Size(x)`: the element count as an int64 scalar.
public struct SizeOf: Operator {
    public init() {}
    public var name: String { "Size" }
    public func isDifferentiable(input index: Int) -> Bool { false }
    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Size needs an input") }
        return [Tensor(shape: [], int64s: [Int64(x.count)])]
    }
}

/// Reshaping ops share one gradient: the incoming gradient reshaped back to the input's shape.
protocol ReshapingOperator: Operator {}
extension ReshapingOperator {
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }
    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        return [b.reshape(g, like: try node.input(0))] + node.inputs.dropFirst().map { _ in nil }
    }
}

/// `Reshape(data, shape)` with ONNX's 0 (copy) and -1 (infer) conventions.
public struct Reshape: ReshapingOperator {
    public let allowZero: Bool
    public init(allowZero: Bool = false) { self.allowZero = allowZero }
    public var name: String { "Reshape" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0] else { throw CAMError(.invalidModel, "Reshape takes (data, shape)") }
        var shape = try intList(inputs[1], "Reshape shape")
        var inferAt: Int?
        for i in shape.indices {
            if shape[i] == 0 && !allowZero {
                guard i < x.rank else { throw CAMError(.runtime, "Reshape: 0 at position \(i) but input \(x.shape) has rank \(x.rank)") }
                shape[i] = x.shape[i]
            } else if shape[i] == -1 {
                guard inferAt == nil else { throw CAMError(.runtime, "Reshape: more than one -1 in \(shape)") }
                inferAt = i
            } else if shape[i] < 0 {
                throw CAMError(.runtime, "Reshape: invalid dimension \(shape[i])")
            }
        }
        if let i = inferAt {
            let known = shape.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            guard known > 0, x.count % known == 0 else {
                throw CAMError(.runtime, "Reshape: cannot reshape \(x.shape) (\(x.count) elements) to \(shape)")
            }
            shape[i] = x.count / known
        }
        guard shape.reduce(1, *) == x.count else {
            throw CAMError(.runtime, "Reshape: cannot reshape \(x.shape) (\(x.count) elements) to \(shape)")
        }
        return [x.reshaped(to: shape)]
    }
}

/// `Flatten(x, axis)`: to 2-D, splitting the dimensions at `axis`.
public struct Flatten: ReshapingOperator {
    public let axis: Int
    public init(axis: Int = 1) { self.axis = axis }
    public var name: String { "Flatten" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Flatten needs an input") }
        let a = axis < 0 ? axis + x.rank : axis
        guard a >= 0 && a <= x.rank else { throw CAMError(.invalidModel, "Flatten: axis \(axis) out of range for rank \(x.rank)") }
        return [x.reshaped(to: [x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)])]
    }
}

/// `Squeeze(data, axes?)`: removes size-1 dimensions (all of them when `axes` is absent).
public struct Squeeze: ReshapingOperator {
    public init() {}
    public var name: String { "Squeeze" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Squeeze needs an input") }
        let axes: [Int]
        if inputs.count > 1, let a = inputs[1] {
            axes = try normalizeAxes(try intList(a, "Squeeze axes"), rank: x.rank, op: name)
            for ax in axes where x.shape[ax] != 1 {
                throw CAMError(.runtime, "Squeeze: axis \(ax) of \(x.shape) is not 1")
            }
        } else {
            axes = x.shape.indices.filter { x.shape[$0] == 1 }
        }
        return [x.reshaped(to: x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))]
    }
}

/// `Unsqueeze(data, axes)`: inserts size-1 dimensions at `axes` of the output.
public struct Unsqueeze: ReshapingOperator {
    public init() {}
    public var name: String { "Unsqueeze" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0] else { throw CAMError(.invalidModel, "Unsqueeze takes (data, axes)") }
        let rank = x.rank + (try intList(inputs[1], "Unsqueeze axes")).count
        let axes = try normalizeAxes(try intList(inputs[1], "Unsqueeze axes"), rank: rank, op: name)
        var shape: [Int] = []
        var src = x.shape.makeIterator()
        for i in 0..<rank { shape.append(axes.contains(i) ? 1 : src.next()!) }
        return [x.reshaped(to: shape)]
    }
}

/// `Expand(x, shape)`: bidirectional broadcast of `x` to `shape`.
public struct Expand: Operator {
    public init() {}
    public var name: String { "Expand" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0] else { throw CAMError(.invalidModel, "Expand takes (input, shape)") }
        let target = try checkedShape(try broadcastShape([x.shape, try intList(inputs[1], "Expand shape")]), name)
        return [try broadcastTo(x, target)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil] }
        return [b.unbroadcast(g, like: try node.input(0)), nil]
    }
}

/// `ConstantOfShape(shape)`: a tensor of `shape` filled with `value`.
public struct ConstantOfShape: Operator {
    public let value: Tensor
    public init(value: Tensor = Tensor(scalar: 0)) { self.value = value }
    public var name: String { "ConstantOfShape" }
    public func isDifferentiable(input index: Int) -> Bool { false }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let shape = try checkedShape(try intList(inputs.first ?? nil, "ConstantOfShape shape"), name)
        return [try broadcastTo(value.reshaped(to: []), shape)]
    }
}

/// ONNX `Range(start, limit, delta)` for float32 or int64 (named after NumPy to keep Swift.Range free).
public struct Arange: Operator {
    public init() {}
    public var name: String { "Range" }
    public func isDifferentiable(input index: Int) -> Bool { false }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let s = inputs[0], let l = inputs[1], let d = inputs[2] else {
            throw CAMError(.invalidModel, "Range takes (start, limit, delta)")
        }
        if s.dtype == .int64 {
            let start = s.toInt64s()[0], limit = l.toInt64s()[0], delta = d.toInt64s()[0]
            guard delta != 0 else { throw CAMError(.runtime, "Range: delta is 0") }
            let n = Swift.max(0, Int((Double(limit - start) / Double(delta)).rounded(.up)))
            _ = try checkedShape([n], name)
            return [Tensor(shape: [n], int64s: (0..<n).map { start + Int64($0) * delta })]
        }
        let start = s.toFloats()[0], limit = l.toFloats()[0], delta = d.toFloats()[0]
        guard delta != 0 else { throw CAMError(.runtime, "Range: delta is 0") }
        let n = Swift.max(0, Int(((limit - start) / delta).rounded(.up)))
        _ = try checkedShape([n], name)
        return [Tensor(shape: [n], floats: (0..<n).map { start + Float($0) * delta })]
    }
}

/// `Cast(x)` between float32, int64 and bool. Float → int truncates toward zero, as ONNX does.
/// Casts to 16-bit floats are stored as float32 rounded to that precision.
public struct Cast: Operator {
    public enum ReducedPrecision: Sendable { case float16, bfloat16 }
    public let to: DType
    public let precision: ReducedPrecision?
    public init(to: DType, precision: ReducedPrecision? = nil) {
        self.to = to
        self.precision = precision
    }
    public var name: String { "Cast" }
    public func isDifferentiable(input index: Int) -> Bool { to == .float32 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Cast needs an input") }
        let y = try cast(x)
        switch precision {
        case nil: return [y]
        case .float16?: return [mapFloats(y.dtype == x.dtype ? y.copy() : y) { Float(Float16($0)) }]
        case .bfloat16?:
            // Round to nearest even on the upper 16 bits.
            return [mapFloats(y) { v in
                if v.isNaN { return v }
                let bits = v.bitPattern
                let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
                return Float(bitPattern: rounded & 0xFFFF_0000)
            }]
        }
    }

    func cast(_ x: Tensor) throws -> Tensor {
        if x.dtype == to { return x }
        switch (x.dtype, to) {
        case (.float32, .int64):
            return Tensor(shape: x.shape, int64s: x.floats.map { $0.isNaN ? 0 : Int64($0.clamped) })
        case (.int64, .float32), (.bool, .float32):
            return Tensor(shape: x.shape, floats: x.toFloats())
        case (.bool, .int64):
            return Tensor(shape: x.shape, int64s: x.toInt64s())
        case (.float32, .bool):
            return Tensor(shape: x.shape, bools: x.floats.map { $0 != 0 })
        case (.int64, .bool):
            return Tensor(shape: x.shape, bools: x.int64s.map { $0 != 0 })
        default:
            return x
        }
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        [node.outputGradient]
    }
}

/// `Identity(x)`.
public struct Identity: Operator {
    public init() {}
    public var name: String { "Identity" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Identity needs an input") }
        return [x]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        [node.outputGradient]
    }
}

/// `Dropout(x, ratio?, training_mode?)` at inference: the identity, with an all-true mask as
/// the optional second output. A `training_mode` input that is true is refused.
public struct Dropout: Operator {
    public let emitsMask: Bool
    public init(emitsMask: Bool = false) { self.emitsMask = emitsMask }
    public var name: String { "Dropout" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Dropout needs an input") }
        if inputs.count > 1, let training = inputs[1], training.toInt64s().first ?? 0 != 0 {
            throw CAMError(.unsupported, "Dropout in training mode is not supported (inference only)")
        }
        if emitsMask { return [x, Tensor(shape: x.shape, bools: [Bool](repeating: true, count: x.count))] }
        return [x]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        [node.outputGradient] + node.inputs.dropFirst().map { _ in nil }
    }
}
