/// `Concat(x0, x1, …; axis)` and `Split(x, split?; axis, num_outputs)`, each the other's
/// backward.

/// Copies `inputs` side by side along `axis` (any dtype).
func concatenate(_ inputs: [Tensor], axis: Int) throws -> Tensor {
    guard let first = inputs.first else { throw CAMError(.invalidModel, "Concat needs inputs") }
    let a = axis < 0 ? axis + first.rank : axis
    guard a >= 0 && a < first.rank else { throw CAMError(.invalidModel, "Concat: axis \(axis) out of range for rank \(first.rank)") }
    var outShape = first.shape
    outShape[a] = 0
    for t in inputs {
        guard t.rank == first.rank, t.dtype == first.dtype,
              t.shape.enumerated().allSatisfy({ $0.offset == a || $0.element == first.shape[$0.offset] }) else {
            throw CAMError(.runtime, "Concat: input shapes \(inputs.map(\.shape)) differ outside axis \(a)")
        }
        outShape[a] += t.shape[a]
    }
    let out = Tensor(uninitialized: outShape, dtype: first.dtype)
    let outer = first.shape[..<a].reduce(1, *)
    let size = first.dtype.size
    let outRow = outShape[a...].reduce(1, *) * size
    var offset = 0
    for t in inputs {
        let row = t.shape[a...].reduce(1, *) * size
        for o in 0..<outer {
            (out.buffer.raw + o * outRow + offset).copyMemory(from: t.buffer.raw + o * row, byteCount: row)
        }
        offset += row
    }
    return out
}

/// Splits `x` along `axis` into pieces of `sizes`.
func split(_ x: Tensor, axis a: Int, sizes: [Int]) throws -> [Tensor] {
    guard sizes.reduce(0, +) == x.shape[a], sizes.allSatisfy({ $0 >= 0 }) else {
        throw CAMError(.runtime, "Split: sizes \(sizes) do not add up to dimension \(x.shape[a]) of \(x.shape)")
    }
    let outer = x.shape[..<a].reduce(1, *)
    let size = x.dtype.size
    let inRow = x.shape[a...].reduce(1, *) * size
    var offset = 0
    return sizes.map { n in
        var shape = x.shape
        shape[a] = n
        let out = Tensor(uninitialized: shape, dtype: x.dtype)
        let row = shape[a...].reduce(1, *) * size
        for o in 0..<outer {
            (out.buffer.raw + o * row).copyMemory(from: x.buffer.raw + o * inRow + offset, byteCount: row)
        }
        offset += row
        return out
    }
}

public struct Concat: Operator {
    public let axis: Int
    public init(axis: Int) { self.axis = axis }
    public var name: String { "Concat" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        [try concatenate(inputs.compactMap { $0 }, axis: axis)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        let present = node.inputs.compactMap { $0 }
        let pieces = b.apply(SplitLike(axis: axis), [g] + present, outputs: present.count)
        var k = 0
        return node.inputs.enumerated().map { i, v in
            guard v != nil else { return nil }
            defer { k += 1 }
            return node.needsGradient[i] ? pieces[k] : nil
        }
    }
}

/// `Split(x, split?)` with `axis` and, when `split` is absent, `numOutputs` equal parts
/// (the last one smaller if the dimension does not divide, as opset 18 says).
public struct Split: Operator {
    public let axis: Int
    public let numOutputs: Int
    public init(axis: Int, numOutputs: Int) { self.axis = axis; self.numOutputs = numOutputs }
    public var name: String { "Split" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Split needs an input") }
        let (a, sizes) = try pieces(of: x.shape, sizesInput: inputs.count > 1 ? inputs[1] : nil)
        return try split(x, axis: a, sizes: sizes)
    }

    /// The axis (non-negative) and the piece sizes a tensor of `shape` is split into: the
    /// `split` input's, else `numOutputs` equal parts.
    func pieces(of shape: [Int], sizesInput: Tensor?) throws -> (axis: Int, sizes: [Int]) {
        let a = axis < 0 ? axis + shape.count : axis
        guard a >= 0 && a < shape.count else { throw CAMError(.invalidModel, "Split: axis \(axis) out of range for rank \(shape.count)") }
        if let sizesInput { return (a, try intList(sizesInput, "Split sizes")) }
        guard numOutputs > 0 else { throw CAMError(.invalidModel, "Split: number of outputs is 0") }
        let per = (shape[a] + numOutputs - 1) / numOutputs
        return (a, (0..<numOutputs).map { Swift.max(0, Swift.min(per, shape[a] - $0 * per)) })
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        [Self.joinedGradient(&b, node, axis: axis)] + node.inputs.dropFirst().map { _ in nil }
    }

    /// The gradient of a split's input: its pieces' gradients (zeros for a piece without one)
    /// concatenated along `axis`.
    static func joinedGradient(_ b: inout GradientBuilder, _ node: GradientNode, axis: Int) -> ValueID {
        var parts: [ValueID?] = []
        for (k, g) in node.outputGradients.enumerated() {
            parts.append(g ?? b.apply(ZerosLike(), node.outputs[k]))
        }
        return b.apply(Concat(axis: axis), parts, outputs: 1)[0]
    }
}

/// Splits `g` along `axis` into pieces shaped like the other inputs: the backward of `Concat`.
public struct SplitLike: Operator {
    public let axis: Int
    public init(axis: Int) { self.axis = axis }
    public var name: String { "SplitLike" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let g = inputs.first ?? nil else { throw CAMError(.invalidModel, "SplitLike needs a gradient") }
        let a = axis < 0 ? axis + g.rank : axis
        return try split(g, axis: a, sizes: inputs.dropFirst().map { $0!.shape[a] })
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        [Split.joinedGradient(&b, node, axis: axis)] + node.inputs.dropFirst().map { _ in nil }
    }
}

/// Zeros of `x`'s shape (float32).
public struct ZerosLike: Operator {
    public init() {}
    public var name: String { "ZerosLike" }
    public func isDifferentiable(input index: Int) -> Bool { false }
    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "ZerosLike needs an input") }
        return [Tensor(zeros: x.shape)]
    }
}
