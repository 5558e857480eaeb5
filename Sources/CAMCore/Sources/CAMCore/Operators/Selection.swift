import Foundation

/// Operators that select elements, as detector heads use them: ArgMax / ArgMin, TopK,
/// GatherElements and NonMaxSuppression. Indices are int64; gradients flow through the
/// selected values (TopK, GatherElements), never through the indices.

/// The (outer, axis length, inner) split of a shape at `axis`.
private func split(_ shape: [Int], _ axis: Int) -> (outer: Int, n: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}

private func resolvedAxis(_ axis: Int, rank: Int, _ op: String) throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0, a < Swift.max(rank, 1) else { throw CAMError(.invalidModel, "\(op): axis \(axis) is out of range for rank \(rank)") }
    return a
}

/// `ArgMax` / `ArgMin(x; axis, keepdims, select_last_index)`: the int64 index of the extreme
/// value along `axis` (the first of equal values, or the last with `selectLastIndex`).
public struct ArgExtremum: Operator {
    public let isMax: Bool
    public let axis: Int
    public let keepDims: Bool
    public let selectLastIndex: Bool

    public init(max isMax: Bool, axis: Int = 0, keepDims: Bool = true, selectLastIndex: Bool = false) {
        self.isMax = isMax
        self.axis = axis
        self.keepDims = keepDims
        self.selectLastIndex = selectLastIndex
    }

    public var name: String { isMax ? "ArgMax" : "ArgMin" }
    public func isDifferentiable(input index: Int) -> Bool { false }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "\(name) needs an input") }
        let a = try resolvedAxis(axis, rank: x.rank, name)
        let (outer, n, inner) = split(x.shape, a)
        guard n > 0 else { throw CAMError(.runtime, "\(name) over an empty axis") }
        var shape = x.shape
        if keepDims { shape[a] = 1 } else { shape.remove(at: a) }
        let v = x.toFloats()
        var out = [Int64](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                var bestValue = v[o * n * inner + i]
                for k in 1..<n {
                    let value = v[(o * n + k) * inner + i]
                    let better = isMax ? (value > bestValue || (selectLastIndex && value == bestValue))
                                       : (value < bestValue || (selectLastIndex && value == bestValue))
                    if better || (value.isNaN && !bestValue.isNaN) { best = k; bestValue = value }
                }
                out[o * inner + i] = Int64(best)
            }
        }
        return [Tensor(shape: shape, int64s: out)]
    }
}

/// `TopK(x, k; axis, largest, sorted)`: the k largest (or smallest) values along `axis` and
/// their int64 indices; equal values keep their order (lower index first). The values'
/// gradient is scattered back to the positions they came from.
public struct TopK: Operator {
    public let axis: Int
    public let largest: Bool
    public init(axis: Int = -1, largest: Bool = true) { self.axis = axis; self.largest = largest }
    public var name: String { "TopK" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0] else { throw CAMError(.invalidModel, "TopK takes (x, k)") }
        guard x.dtype == .float32 || x.dtype == .int64 else { throw CAMError(.unsupported, "TopK of \(x.dtype) is not supported") }
        let ks = try intList(inputs[1], "TopK k")
        guard ks.count == 1 else { throw CAMError(.invalidModel, "TopK: k must hold one value, got \(ks.count)") }
        let a = try resolvedAxis(axis, rank: x.rank, name)
        let (outer, n, inner) = split(x.shape, a)
        let k = ks[0]
        guard k >= 0, k <= n else { throw CAMError(.runtime, "TopK: k = \(k) for an axis of length \(n)") }
        var shape = x.shape
        shape[a] = k
        let v = x.toFloats()
        var values = [Float](repeating: 0, count: outer * k * inner)
        var indices = [Int64](repeating: 0, count: outer * k * inner)
        var order = [Int](repeating: 0, count: n)
        for o in 0..<outer {
            for i in 0..<inner {
                for j in 0..<n { order[j] = j }
                let base = o * n * inner + i
                order.sort { p, q in
                    let vp = v[base + p * inner], vq = v[base + q * inner]
                    if vp != vq { return largest ? vp > vq : vp < vq }
                    return p < q
                }
                for j in 0..<k {
                    values[(o * k + j) * inner + i] = v[base + order[j] * inner]
                    indices[(o * k + j) * inner + i] = Int64(order[j])
                }
            }
        }
        if x.dtype == .int64 {
            // Integers beyond float32's exact range would be rounded above: take them directly.
            let ints = x.toInt64s()
            let out = Tensor(shape: shape, int64s: (0..<(outer * k * inner)).map { e in
                let o = e / (k * inner), i = e % inner
                return ints[o * n * inner + Int(indices[e]) * inner + i]
            })
            return [out, Tensor(shape: shape, int64s: indices)]
        }
        return [Tensor(shape: shape, floats: values), Tensor(shape: shape, int64s: indices)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradients.first ?? nil else { return [nil, nil] }
        return [b.apply(ScatterAddElements(axis: axis), g, try node.input(0), node.outputs[1]), nil]
    }
}

/// `GatherElements(data, indices; axis)`: `out[…i…] = data[…indices[…i…]…]` along `axis`.
public struct GatherElements: Operator {
    public let axis: Int
    public init(axis: Int = 0) { self.axis = axis }
    public var name: String { "GatherElements" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0], let idx = inputs[1] else { throw CAMError(.invalidModel, "GatherElements takes (data, indices)") }
        let a = try resolvedAxis(axis, rank: x.rank, name)
        let positions = try ScatterAddElements.sourcePositions(data: x.shape, indices: idx, axis: a, op: name)
        let out: Tensor
        switch x.dtype {
        case .float32:
            let v = x.toFloats()
            out = Tensor(shape: idx.shape, floats: positions.map { v[$0] })
        case .int64:
            let v = x.toInt64s()
            out = Tensor(shape: idx.shape, int64s: positions.map { v[$0] })
        case .bool:
            let v = Array(x.bools)
            out = Tensor(shape: idx.shape, bools: positions.map { v[$0] != 0 })
        @unknown default:
            throw CAMError(.unsupported, "GatherElements of \(x.dtype)")
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil] }
        return [b.apply(ScatterAddElements(axis: axis), g, try node.input(0), try node.input(1)), nil]
    }
}

/// Inputs (g, data, indices): zeros shaped like `data` with `g` added at the positions
/// `GatherElements(data, indices; axis)` reads. The backward of TopK and GatherElements.
public struct ScatterAddElements: Operator {
    public let axis: Int
    public init(axis: Int) { self.axis = axis }
    public var name: String { "ScatterAddElements" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    /// The flat position in `data` that each element of `indices` selects along `axis`.
    static func sourcePositions(data: [Int], indices idx: Tensor, axis a: Int, op: String) throws -> [Int] {
        guard idx.rank == data.count else { throw CAMError(.invalidModel, "\(op): indices \(idx.shape) and data \(data) must have the same rank") }
        for d in 0..<data.count where d != a && idx.shape[d] > data[d] {
            throw CAMError(.invalidModel, "\(op): indices \(idx.shape) exceed data \(data) along axis \(d)")
        }
        let values = try intList(idx, "\(op) indices")
        let strides = rowMajorStrides(data)
        var positions = [Int](repeating: 0, count: values.count)
        var coord = [Int](repeating: 0, count: data.count)
        for e in 0..<values.count {
            var rest = e
            for d in stride(from: data.count - 1, through: 0, by: -1) {
                coord[d] = rest % idx.shape[d]
                rest /= idx.shape[d]
            }
            var j = values[e]
            if j < 0 { j += data[a] }
            guard j >= 0, j < data[a] else { throw CAMError(.runtime, "\(op): index \(values[e]) is out of range for an axis of length \(data[a])") }
            coord[a] = j
            positions[e] = zip(coord, strides).reduce(0) { $0 + $1.0 * $1.1 }
        }
        return positions
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let g = inputs[0], let x = inputs[1], let idx = inputs[2] else {
            throw CAMError(.invalidModel, "ScatterAddElements takes (g, data, indices)")
        }
        let a = try resolvedAxis(axis, rank: x.rank, name)
        let positions = try Self.sourcePositions(data: x.shape, indices: idx, axis: a, op: name)
        guard g.count == positions.count else { throw CAMError(.runtime, "ScatterAddElements: gradient \(g.shape) does not match indices \(idx.shape)") }
        let out = Tensor(zeros: x.shape)
        let po = out.mutableFloats
        for (e, p) in positions.enumerated() { po[p] += g.floats[e] }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil, nil] }
        return [b.apply(GatherElements(axis: axis), gg, try node.input(2)), nil, nil]
    }
}

/// `NonMaxSuppression(boxes, scores, max_output_boxes_per_class?, iou_threshold?,
/// score_threshold?; center_point_box)`: per batch item and class, greedy selection by
/// descending score of boxes whose IoU with every box already selected is at most the
/// threshold. Output (selected, 3) int64 rows (batch, class, box). Boxes are
/// [y1, x1, y2, x2] (either diagonal) or, with `centerPointBox`, [x, y, w, h].
public struct NonMaxSuppression: Operator {
    public let centerPointBox: Bool
    public init(centerPointBox: Bool = false) { self.centerPointBox = centerPointBox }
    public var name: String { "NonMaxSuppression" }
    public func isDifferentiable(input index: Int) -> Bool { false }

    /// (xmin, ymin, xmax, ymax) of a box in the operator's format.
    func corners(_ b: ArraySlice<Float>) -> (Float, Float, Float, Float) {
        let v = Array(b)
        if centerPointBox {
            return (v[0] - v[2] / 2, v[1] - v[3] / 2, v[0] + v[2] / 2, v[1] + v[3] / 2)
        }
        return (Swift.min(v[1], v[3]), Swift.min(v[0], v[2]), Swift.max(v[1], v[3]), Swift.max(v[0], v[2]))
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let boxes = inputs[0], let scores = inputs[1] else {
            throw CAMError(.invalidModel, "NonMaxSuppression takes (boxes, scores, …)")
        }
        guard boxes.rank == 3, boxes.shape[2] == 4, scores.rank == 3, scores.shape[0] == boxes.shape[0], scores.shape[2] == boxes.shape[1] else {
            throw CAMError(.invalidModel, "NonMaxSuppression: boxes \(boxes.shape) must be (B, N, 4) and scores \(scores.shape) (B, C, N)")
        }
        func scalar(_ i: Int) -> Tensor? { i < inputs.count ? inputs[i].flatMap { $0.count > 0 ? $0 : nil } : nil }
        let maxPerClass = scalar(2).map { Int(clamping: $0.toInt64s()[0]) } ?? 0
        let iouThreshold = scalar(3)?.toFloats()[0] ?? 0
        let scoreThreshold = scalar(4)?.toFloats()[0]
        let (batch, classes, n) = (scores.shape[0], scores.shape[1], scores.shape[2])
        let b = boxes.toFloats(), s = scores.toFloats()
        var selected: [Int64] = []
        guard maxPerClass > 0 else { return [Tensor(shape: [0, 3], int64s: [])] }
        for bi in 0..<batch {
            let box = (0..<n).map { corners(b[((bi * n + $0) * 4)..<((bi * n + $0) * 4 + 4)]) }
            for c in 0..<classes {
                let base = (bi * classes + c) * n
                var candidates = (0..<n).filter { scoreThreshold == nil || s[base + $0] > scoreThreshold! }
                candidates.sort { s[base + $0] != s[base + $1] ? s[base + $0] > s[base + $1] : $0 < $1 }
                var kept: [Int] = []
                for i in candidates {
                    if kept.count >= maxPerClass { break }
                    let suppressed = kept.contains { j in
                        let (ax0, ay0, ax1, ay1) = box[i], (bx0, by0, bx1, by1) = box[j]
                        let iw = Swift.min(ax1, bx1) - Swift.max(ax0, bx0), ih = Swift.min(ay1, by1) - Swift.max(ay0, by0)
                        guard iw > 0, ih > 0 else { return false }
                        let inter = iw * ih
                        let areaA = (ax1 - ax0) * (ay1 - ay0), areaB = (bx1 - bx0) * (by1 - by0)
                        let union = areaA + areaB - inter
                        guard areaA > 0, areaB > 0, union > 0 else { return false }
                        return inter / union > iouThreshold
                    }
                    if !suppressed {
                        kept.append(i)
                        selected += [Int64(bi), Int64(c), Int64(i)]
                    }
                }
            }
        }
        return [Tensor(shape: [selected.count / 3, 3], int64s: selected)]
    }
}
