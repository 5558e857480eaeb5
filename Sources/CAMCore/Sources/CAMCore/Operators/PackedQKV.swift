/// Where attention's q, k and v are when they are pieces of one tensor: vision transformers
/// compute them with one `qkv` projection, then `Reshape` it to (B, N, 3, H, d), `Transpose`
/// it to (3, B, H, N, d), `Split` it in three and `Squeeze` each piece to (B, H, N, d)
/// (`TransposedSplit` and three `Squeeze` nodes here). `Attention` reads the pieces in place
/// through `views`, so the transposed copies are never made; `pieces` makes them where it cannot.
public struct PackedQKV: Sendable {
    /// The transpose and split the pieces come from; its inputs are `(x, split sizes?)`.
    public let split: TransposedSplit
    /// How many pieces the split makes, and which of them are q, k and v.
    public let outputs: Int
    public let q: Int, k: Int, v: Int
    /// The axes each piece's `Squeeze` removes (the split axis, for the views to apply).
    public let squeezeAxes: [Int]

    public init(split: TransposedSplit, outputs: Int, q: Int, k: Int, v: Int, squeezeAxes: [Int]) {
        self.split = split
        self.outputs = outputs
        (self.q, self.k, self.v) = (q, k, v)
        self.squeezeAxes = squeezeAxes
    }

    /// q, k and v read in place in x, or nil when they cannot be (a piece more than one wide,
    /// a squeeze of other axes than the split's, a permutation that moves x's last axis).
    func views(of x: Tensor, sizes: Tensor?) throws -> (q: MatrixStack, k: MatrixStack, v: MatrixStack)? {
        let perm = try split.transpose.resolvedPerm(rank: x.rank)
        let (axis, widths) = try split.split.pieces(of: perm.map { x.shape[$0] }, sizesInput: sizes)
        guard widths.count == outputs, widths.reduce(0, +) == x.shape[perm[axis]],
              squeezeAxes.map({ $0 < 0 ? $0 + x.rank : $0 }) == [axis],
              let q = MatrixStack(piece: q, of: x, perm: perm, axis: axis, sizes: widths),
              let k = MatrixStack(piece: k, of: x, perm: perm, axis: axis, sizes: widths),
              let v = MatrixStack(piece: v, of: x, perm: perm, axis: axis, sizes: widths) else { return nil }
        return (q, k, v)
    }

    /// The shape of q (0), k (1) or v (2) as the nodes would make it, computed from x's.
    func shape(ofPiece which: Int, in x: Tensor, sizes: Tensor?) throws -> [Int] {
        let perm = try split.transpose.resolvedPerm(rank: x.rank)
        var shape = perm.map { x.shape[$0] }
        let (axis, widths) = try split.split.pieces(of: shape, sizesInput: sizes)
        let index = [q, k, v][which]
        guard widths.count == outputs, widths.indices.contains(index) else {
            throw CAMError(.invalidModel, "Attention: the split of q, k and v makes \(widths.count) pieces, not \(outputs)")
        }
        shape[axis] = widths[index]
        let axes = try normalizeAxes(squeezeAxes, rank: shape.count, op: "Squeeze")
        for a in axes where shape[a] != 1 { throw CAMError(.runtime, "Squeeze: axis \(a) of \(shape) is not 1") }
        return shape.indices.filter { !axes.contains($0) }.map { shape[$0] }
    }

    /// q, k and v as the nodes compute them: the split's pieces, squeezed.
    func pieces(of x: Tensor, sizes: Tensor?) throws -> [Tensor] {
        let all = try split.forward([x, sizes])
        guard all.count > Swift.max(q, k, v) else {
            throw CAMError(.invalidModel, "Attention: the split of q, k and v makes \(all.count) pieces, not \(outputs)")
        }
        let axes = Tensor(shape: [squeezeAxes.count], int64s: squeezeAxes.map(Int64.init))
        return try [q, k, v].map { try Squeeze().forward([all[$0], axes])[0] }
    }

    /// The split and squeeze nodes, emitted for a gradient: all of the split's pieces, and q,
    /// k and v.
    func emitPieces(_ b: inout GradientBuilder, _ x: ValueID?, sizes: ValueID?) -> (pieces: [ValueID], q: ValueID, k: ValueID, v: ValueID) {
        let all = b.apply(split, [x, sizes], outputs: outputs)
        let axes = b.constant(Tensor(shape: [squeezeAxes.count], int64s: squeezeAxes.map(Int64.init)))
        let squeezed = [q, k, v].map { b.apply(Squeeze(), all[$0], axes) }
        return (all, squeezed[0], squeezed[1], squeezed[2])
    }

    /// x's gradient from those of q, k and v (nil for none): each unsqueezed to its piece's
    /// shape, then the split's and transpose's VJP.
    func gradient(_ b: inout GradientBuilder, _ x: ValueID?, sizes: ValueID?, pieces: [ValueID],
                  q gq: ValueID?, k gk: ValueID?, v gv: ValueID?) throws -> ValueID? {
        var perPiece = [ValueID?](repeating: nil, count: outputs)
        for (index, g) in [(q, gq), (k, gk), (v, gv)] {
            guard let g else { continue }
            let shaped = b.reshape(g, like: pieces[index])
            perPiece[index] = b.add(perPiece[index], shaped)
        }
        guard perPiece.contains(where: { $0 != nil }) else { return nil }
        return try split.gradient(&b, GradientNode(inputs: [x, sizes], outputs: pieces, outputGradients: perPiece,
                                                   needsGradient: [true, false]))[0]
    }
}
