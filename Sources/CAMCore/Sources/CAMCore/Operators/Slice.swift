/// `Slice(data, starts, ends, axes?, steps?)` with ONNX's clamping rules, and its backward.
public struct Slice: Operator {
    public init() {}
    public var name: String { "Slice" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    /// Per-dimension source index maps for slicing `shape` with the given parameter tensors.
    static func maps(shape: [Int], _ params: ArraySlice<Tensor?>) throws -> [[Int]] {
        let p = Array(params)
        let starts = try intList(p.count > 0 ? p[0] : nil, "Slice starts")
        let ends = try intList(p.count > 1 ? p[1] : nil, "Slice ends")
        guard starts.count == ends.count else { throw CAMError(.invalidModel, "Slice: \(starts.count) starts but \(ends.count) ends") }
        let axes = p.count > 2 && p[2] != nil ? try intList(p[2], "Slice axes") : Array(0..<starts.count)
        let steps = p.count > 3 && p[3] != nil ? try intList(p[3], "Slice steps") : [Int](repeating: 1, count: starts.count)
        guard axes.count == starts.count, steps.count == starts.count else {
            throw CAMError(.invalidModel, "Slice: starts, ends, axes and steps must have the same length")
        }
        var maps = shape.map { Array(0..<$0) }
        var seen = Set<Int>()
        for k in starts.indices {
            let axis = axes[k] < 0 ? axes[k] + shape.count : axes[k]
            guard axis >= 0 && axis < shape.count, seen.insert(axis).inserted else {
                throw CAMError(.invalidModel, "Slice: axis \(axes[k]) is out of range or repeated for rank \(shape.count)")
            }
            let d = shape[axis], step = steps[k]
            guard step != 0 else { throw CAMError(.invalidModel, "Slice: step 0 on axis \(axis)") }
            var s = starts[k] < 0 ? starts[k] &+ d : starts[k]
            var e = ends[k] < 0 ? ends[k] &+ d : ends[k]
            if step > 0 {
                s = Swift.min(Swift.max(s, 0), d)
                e = Swift.min(Swift.max(e, 0), d)
            } else {
                s = Swift.min(Swift.max(s, 0), d - 1)
                e = Swift.min(Swift.max(e, -1), d - 1)
            }
            let n = step > 0 ? Swift.max(0, (e - s + step - 1) / step) : Swift.max(0, (s - e + (-step) - 1) / (-step))
            maps[axis] = (0..<n).map { s + $0 * step }
        }
        return maps
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Slice needs data") }
        if x.rank == 0 { return [x] }
        return [gatherByDimensionMaps(x, maps: try Slice.maps(shape: x.shape, inputs.dropFirst()), fill: nil)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        return [b.apply(SliceBackward(), [g] + node.inputs, outputs: 1)[0]] + node.inputs.dropFirst().map { _ in nil }
    }
}

/// Backward of `Slice`: `g` placed into zeros shaped like the sliced input.
/// Inputs: (g, data, starts, ends, axes?, steps?).
public struct SliceBackward: Operator {
    public init() {}
    public var name: String { "SliceBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 4, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "SliceBackward takes (g, data, starts, ends, …)") }
        let maps = try Slice.maps(shape: x.shape, inputs.dropFirst(2))
        return [scatterAddByDimensionMaps(g, maps: maps, shape: x.shape)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return node.inputs.map { _ in nil } }
        return [b.apply(Slice(), [gg] + node.inputs.dropFirst(2), outputs: 1)[0]] + node.inputs.dropFirst().map { _ in nil }
    }
}
