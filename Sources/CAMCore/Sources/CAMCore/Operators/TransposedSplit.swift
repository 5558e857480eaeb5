/// `Split(Transpose(x))` in one pass: each piece is written straight from `x` through the
/// permuted strides, so the transposed tensor is never materialised and then copied apart —
/// attention's `qkv` (Reshape, Transpose, Split into q, k and v) in vision transformers.
/// `GraphOptimizer.fuseTransposeIntoSplits` writes it; inputs (x, split sizes?) as Split's.
public struct TransposedSplit: Operator {
    public let transpose: Transpose
    public let split: Split
    public init(transpose: Transpose, split: Split) { self.transpose = transpose; self.split = split }
    public var name: String { "Transpose+Split" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Transpose+Split needs an input") }
        let perm = try transpose.resolvedPerm(rank: x.rank)
        let shape = perm.map { x.shape[$0] }
        let (axis, sizes) = try split.pieces(of: shape, sizesInput: inputs.count > 1 ? inputs[1] : nil)
        guard sizes.reduce(0, +) == shape[axis], sizes.allSatisfy({ $0 >= 0 }) else {
            throw CAMError(.runtime, "Split: sizes \(sizes) do not add up to dimension \(shape[axis]) of \(shape)")
        }
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return CAMCore.transpose(x, perm, slice: (axis, start..<(start + n)))
        }
    }

    /// As the two nodes it replaced: the pieces' gradients joined, then transposed back.
    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard node.outputGradients.contains(where: { $0 != nil }) else { return node.inputs.map { _ in nil } }
        let joined = Split.joinedGradient(&b, node, axis: split.axis)
        return [b.apply(transpose.inverse, joined)] + node.inputs.dropFirst().map { _ in nil }
    }
}
