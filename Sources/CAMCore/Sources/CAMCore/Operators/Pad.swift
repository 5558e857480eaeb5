/// `Pad(data, pads, constant_value?, axes?)` in constant, reflect, edge and wrap modes
/// (negative pads crop), and its backward.
public struct Pad: Operator {
    public enum Mode: String, Sendable { case constant, reflect, edge, wrap }
    public let mode: Mode
    public init(mode: Mode = .constant) { self.mode = mode }
    public var name: String { "Pad" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    /// Source index of each output coordinate per dimension (-1: the constant).
    func maps(shape: [Int], _ params: ArraySlice<Tensor?>) throws -> [[Int]] {
        let p = Array(params)
        let pads = try intList(p.first ?? nil, "Pad pads")
        let axes = p.count > 2 && p[2] != nil
            ? try normalizeAxes(try intList(p[2], "Pad axes"), rank: shape.count, op: name).map { $0 }
            : Array(0..<shape.count)
        guard pads.count == 2 * axes.count else {
            throw CAMError(.invalidModel, "Pad: \(pads.count) pad values for \(axes.count) axes (expected \(2 * axes.count))")
        }
        var maps = shape.map { Array(0..<$0) }
        for (k, axis) in axes.enumerated() {
            let d = shape[axis], before = pads[k], after = pads[k + axes.count]
            let n = d + before + after
            guard n >= 0, n <= 1 << 24 else { throw CAMError(.invalidModel, "Pad: pads \(before), \(after) on a dimension of \(d)") }
            if mode != .constant && d == 0 && n > 0 { throw CAMError(.invalidModel, "Pad: \(mode) padding of an empty dimension") }
            if mode == .reflect && d == 1 && (before > 0 || after > 0) {
                maps[axis] = [Int](repeating: 0, count: n)
                continue
            }
            maps[axis] = (0..<n).map { o in
                let i = o - before
                if i >= 0 && i < d { return i }
                switch mode {
                case .constant: return -1
                case .edge: return i < 0 ? 0 : d - 1
                case .wrap: return ((i % d) + d) % d
                case .reflect:
                    let period = 2 * (d - 1)
                    var r = ((i % period) + period) % period
                    if r >= d { r = period - r }
                    return r
                }
            }
        }
        return maps
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let x = inputs[0] else { throw CAMError(.invalidModel, "Pad takes (data, pads, …)") }
        var fill: Tensor? = nil
        if inputs.count > 2, let c = inputs[2] {
            guard c.dtype == x.dtype, c.count >= 1 else { throw CAMError(.invalidModel, "Pad: constant_value must be a \(x.dtype) scalar") }
            fill = c
        }
        if x.rank == 0 { return [x] }
        let maps = try maps(shape: x.shape, inputs.dropFirst())
        _ = try checkedShape(maps.map(\.count), name)
        return [gatherByDimensionMaps(x, maps: maps, fill: fill)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        return [b.apply(PadBackward(mode: mode), [g] + node.inputs, outputs: 1)[0]] + node.inputs.dropFirst().map { _ in nil }
    }
}

/// Backward of `Pad`: each output gradient added back to the input element it came from.
/// Inputs: (g, data, pads, constant_value?, axes?).
public struct PadBackward: Operator {
    public let mode: Pad.Mode
    public init(mode: Pad.Mode) { self.mode = mode }
    public var name: String { "PadBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 3, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "PadBackward takes (g, data, pads, …)") }
        let maps = try Pad(mode: mode).maps(shape: x.shape, inputs.dropFirst(2))
        return [scatterAddByDimensionMaps(g, maps: maps, shape: x.shape)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return node.inputs.map { _ in nil } }
        // The transpose of the scatter is the gather with a zero constant.
        let pads = node.inputs.count > 2 ? node.inputs[2] : nil
        let axes = node.inputs.count > 4 ? node.inputs[4] : nil
        let zero = b.constant(Tensor(scalar: 0))
        return [b.apply(Pad(mode: mode), [gg, pads, zero, axes], outputs: 1)[0]] + node.inputs.dropFirst().map { _ in nil }
    }
}
