/// `Gather(data, indices; axis)` (negative indices count from the end) and its backward.
public struct Gather: Operator {
    public let axis: Int
    public init(axis: Int = 0) { self.axis = axis }
    public var name: String { "Gather" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    /// Validated, non-negative indices.
    static func indices(_ t: Tensor?, dimension: Int) throws -> (shape: [Int], values: [Int]) {
        guard let t else { throw CAMError(.invalidModel, "Gather needs indices") }
        let values = try intList(t, "Gather indices").map { $0 < 0 ? $0 + dimension : $0 }
        guard values.allSatisfy({ $0 >= 0 && $0 < dimension }) else {
            throw CAMError(.runtime, "Gather: an index is out of range for a dimension of \(dimension)")
        }
        return (t.shape, values)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0] else { throw CAMError(.invalidModel, "Gather takes (data, indices)") }
        let a = axis < 0 ? axis + x.rank : axis
        guard a >= 0 && a < x.rank else { throw CAMError(.invalidModel, "Gather: axis \(axis) out of range for rank \(x.rank)") }
        let (ishape, idx) = try Gather.indices(inputs[1], dimension: x.shape[a])
        let outShape = Array(x.shape[..<a]) + ishape + Array(x.shape[(a + 1)...])
        let out = Tensor(uninitialized: try checkedShape(outShape, name), dtype: x.dtype)
        let outer = x.shape[..<a].reduce(1, *)
        let inner = x.shape[(a + 1)...].reduce(1, *) * x.dtype.size
        for o in 0..<outer {
            for (k, i) in idx.enumerated() {
                (out.buffer.raw + (o * idx.count + k) * inner).copyMemory(from: x.buffer.raw + (o * x.shape[a] + i) * inner, byteCount: inner)
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil] }
        return [b.apply(GatherBackward(axis: axis), g, try node.input(0), try node.input(1)), nil]
    }
}

/// Backward of `Gather`: inputs (g, data, indices); `g` scatter-added into zeros like `data`.
public struct GatherBackward: Operator {
    public let axis: Int
    public init(axis: Int) { self.axis = axis }
    public var name: String { "GatherBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "GatherBackward takes (g, data, indices)") }
        let a = axis < 0 ? axis + x.rank : axis
        let (_, idx) = try Gather.indices(inputs[2], dimension: x.shape[a])
        let out = Tensor(zeros: x.shape)
        let outer = x.shape[..<a].reduce(1, *)
        let inner = x.shape[(a + 1)...].reduce(1, *)
        let po = out.mutableFloats.baseAddress!, pg = g.floats.baseAddress!
        for o in 0..<outer {
            for (k, i) in idx.enumerated() {
                let dst = po + (o * x.shape[a] + i) * inner, src = pg + (o * idx.count + k) * inner
                for j in 0..<inner { dst[j] += src[j] }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil, nil] }
        return [b.apply(Gather(axis: axis), gg, try node.input(2)), nil, nil]
    }
}
