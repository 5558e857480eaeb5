/// `Tile(input, repeats)`: the input repeated `repeats[d]` times along each axis d; and
/// `TileBackward`, its VJP (the sum over the copies), whose own VJP is `Tile` again.

/// The validated repeat counts for `x`.
func tileRepeats(_ t: Tensor?, rank: Int) throws -> [Int] {
    let repeats = try intList(t, "Tile repeats")
    guard repeats.count == rank else {
        throw CAMError(.runtime, "Tile: \(repeats.count) repeats for an input of rank \(rank)")
    }
    guard repeats.allSatisfy({ $0 >= 0 }) else { throw CAMError(.runtime, "Tile: negative repeats \(repeats)") }
    return repeats
}

public struct Tile: Operator {
    public init() {}
    public var name: String { "Tile" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0] else { throw CAMError(.invalidModel, "Tile takes (input, repeats)") }
        let repeats = try tileRepeats(inputs[1], rank: x.rank)
        if x.rank == 0 { return [x] }
        let outShape = try checkedShape(zip(x.shape, repeats).map { $0 * $1 }, name)
        // Each output coordinate reads the input at (coordinate mod size).
        let maps = zip(outShape, x.shape).map { n, d in (0..<n).map { $0 % d } }
        return [gatherByDimensionMaps(x, maps: maps, fill: nil)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil] }
        return [b.apply(TileBackward(), g, try node.input(0), try node.input(1)), nil]
    }
}

/// Backward of `Tile`: inputs (g, input, repeats); the copies of `g` summed into the input's shape.
public struct TileBackward: Operator {
    public init() {}
    public var name: String { "TileBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let g = inputs[0], let x = inputs[1] else {
            throw CAMError(.invalidModel, "TileBackward takes (g, input, repeats)")
        }
        let repeats = try tileRepeats(inputs[2], rank: x.rank)
        if x.rank == 0 { return [g] }
        // g viewed as (r0, d0, r1, d1, …) summed over the r axes.
        let interleaved = zip(repeats, x.shape).flatMap { [$0, $1] }
        guard interleaved.reduce(1, *) == g.count else {
            throw CAMError(.runtime, "TileBackward: gradient \(g.shape) does not match input \(x.shape) tiled \(repeats)")
        }
        let kept = zip(repeats, x.shape).flatMap { [1, $1] }
        return [try sumToShape(g.reshaped(to: interleaved), kept).reshaped(to: x.shape)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil, nil] }
        return [b.apply(Tile(), gg, try node.input(2)), nil, nil]
    }
}
