extension Tensor {
    /// Item `index` along the first axis, without that axis (a copy).
    public func batchItem(_ index: Int) -> Tensor {
        precondition(rank >= 1 && index >= 0 && index < shape[0], "batch index \(index) out of range for \(shape)")
        let itemShape = Array(shape.dropFirst())
        let bytes = itemShape.reduce(1, *) * dtype.size
        let out = Tensor(uninitialized: itemShape, dtype: dtype)
        out.buffer.raw.copyMemory(from: buffer.raw + index * bytes, byteCount: bytes)
        return out
    }

    /// Items `range` along the first axis (a copy).
    public func batchSlice(_ range: Swift.Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "batch range \(range) out of range for \(shape)")
        let itemBytes = shape.dropFirst().reduce(1, *) * dtype.size
        let out = Tensor(uninitialized: [range.count] + shape.dropFirst(), dtype: dtype)
        out.buffer.raw.copyMemory(from: buffer.raw + range.lowerBound * itemBytes, byteCount: range.count * itemBytes)
        return out
    }

    /// Stacks equally shaped tensors along a new first axis.
    public static func stack(_ items: [Tensor]) throws -> Tensor {
        guard let first = items.first else { throw CAMError(.runtime, "nothing to stack") }
        guard items.allSatisfy({ $0.shape == first.shape && $0.dtype == first.dtype }) else {
            throw CAMError(.invalidInput, "cannot stack tensors of shapes \(items.map(\.shape))")
        }
        let bytes = first.count * first.dtype.size
        let out = Tensor(uninitialized: [items.count] + first.shape, dtype: first.dtype)
        for (i, t) in items.enumerated() { (out.buffer.raw + i * bytes).copyMemory(from: t.buffer.raw, byteCount: bytes) }
        return out
    }

    /// `item` repeated `count` times along a new first axis.
    public static func repeatRows(_ item: Tensor, count: Int) throws -> Tensor {
        let bytes = item.count * item.dtype.size
        let out = Tensor(uninitialized: [count] + item.shape, dtype: item.dtype)
        for i in 0..<count { (out.buffer.raw + i * bytes).copyMemory(from: item.buffer.raw, byteCount: bytes) }
        return out
    }

    /// Concatenates tensors along the first axis.
    public static func concatenateBatches(_ items: [Tensor]) throws -> Tensor {
        try concatenate(items, axis: 0)
    }
}
