/// A batch of matrices inside a tensor's storage, as a batched product reads them in place:
/// the columns contiguous, the rows `rowPitch` floats apart, each batch axis at a stride of
/// its own. A contiguous tensor is one; so is a piece of `Split(Transpose(x))` whose last axis
/// stays last: attention's q, k and v inside the qkv projection's output.
struct MatrixStack {
    /// The tensor whose storage holds the matrices.
    let tensor: Tensor
    /// Where the first matrix starts, in floats.
    let base: Int
    let batch: [Int]
    /// Floats from one matrix to the next along each batch axis.
    let batchStrides: [Int]
    let rows: Int, columns: Int
    let rowPitch: Int

    /// The matrices of a contiguous tensor of rank ≥ 2: its last two axes.
    init(_ t: Tensor) {
        precondition(t.rank >= 2, "a stack of matrices has rank 2 or more")
        let strides = rowMajorStrides(t.shape)
        (tensor, base) = (t, 0)
        (batch, batchStrides) = (Array(t.shape.dropLast(2)), Array(strides.dropLast(2)))
        (rows, columns, rowPitch) = (t.shape[t.rank - 2], t.shape[t.rank - 1], t.shape[t.rank - 1])
    }

    /// Piece `index` of `Split(Transpose(x, perm), axis, sizes)`, the split axis squeezed away:
    /// nil unless the piece is one wide on that axis, the permutation keeps x's last axis last,
    /// and two axes or more remain.
    init?(piece index: Int, of x: Tensor, perm: [Int], axis: Int, sizes: [Int]) {
        guard x.dtype == .float32, perm.count == x.rank, perm.last == x.rank - 1, x.rank >= 3,
              sizes.indices.contains(index), sizes[index] == 1, (0..<x.rank).contains(axis), axis < x.rank - 1 else { return nil }
        let xStrides = rowMajorStrides(x.shape)
        let shape = perm.map { x.shape[$0] }, strides = perm.map { xStrides[$0] }
        let start = sizes[..<index].reduce(0, +)
        let kept = (0..<x.rank).filter { $0 != axis }
        (tensor, base) = (x, start * strides[axis])
        batch = kept.dropLast(2).map { shape[$0] }
        batchStrides = kept.dropLast(2).map { strides[$0] }
        (rows, columns, rowPitch) = (shape[kept[kept.count - 2]], shape[x.rank - 1], strides[kept[kept.count - 2]])
    }

    /// The first float of the first matrix.
    var floats: UnsafePointer<Float> { tensor.floats.baseAddress! + base }
}

/// The items of a batched product (its operands' batch axes, broadcast NumPy-style): where the
/// matrix of each operand that item i reads starts.
struct BatchedMatrices {
    /// The broadcast batch shape, and the number of items in it.
    let batch: [Int]
    let count: Int
    /// Per operand, floats from one matrix to the next along each axis of `batch` (0 where it
    /// is broadcast).
    private let strides: [[Int]]

    /// For these operands; throws if their batch axes do not broadcast.
    init(_ operands: [MatrixStack]) throws {
        let batch = try broadcastShape(operands.map(\.batch))
        (self.batch, count) = (batch, batch.reduce(1, *))
        strides = operands.map { stack in
            let offset = batch.count - stack.batch.count
            return batch.indices.map { d in
                d < offset || stack.batch[d - offset] == 1 ? 0 : stack.batchStrides[d - offset]
            }
        }
    }

    /// Floats from `operand`'s first matrix to the one item `item` reads.
    func offset(_ operand: Int, of item: Int) -> Int {
        var rest = item, offset = 0
        for d in stride(from: batch.count - 1, through: 0, by: -1) {
            offset += rest % batch[d] * strides[operand][d]
            rest /= batch[d]
        }
        return offset
    }
}
