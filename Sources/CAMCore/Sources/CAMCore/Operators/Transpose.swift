/// `Transpose(x, perm)`: permutes dimensions (reverses them when `perm` is empty).
public struct Transpose: Operator {
    public let perm: [Int]
    public init(perm: [Int] = []) { self.perm = perm }
    public var name: String { "Transpose" }

    func resolvedPerm(rank: Int) throws -> [Int] {
        let p = perm.isEmpty ? Array((0..<rank).reversed()) : perm
        guard p.count == rank, p.sorted() == Array(0..<rank) else {
            throw CAMError(.invalidModel, "Transpose: perm \(perm) is not a permutation of 0..<\(rank)")
        }
        return p
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Transpose needs an input") }
        return [transpose(x, try resolvedPerm(rank: x.rank))]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil] }
        return [b.apply(inverse, g)]
    }

    /// The transpose that undoes this one.
    var inverse: Transpose {
        if perm.isEmpty { return Transpose() }
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return Transpose(perm: inverse)
    }
}

/// Materialises `x` with its dimensions permuted by `perm` — only indices `slice.range` along
/// output axis `slice.axis` when a slice is given (one piece of a split of the transpose).
func transpose(_ x: Tensor, _ perm: [Int], slice: (axis: Int, range: Range<Int>)? = nil) -> Tensor {
    if perm == Array(0..<x.rank) && slice == nil { return x }
    let strides = rowMajorStrides(x.shape)
    // Walk the output in order, reading the input through permuted strides.
    let permStrides = perm.map { strides[$0] }
    var outShape = perm.map { x.shape[$0] }
    var origin = 0
    if let slice {
        outShape[slice.axis] = slice.range.count
        origin = slice.range.lowerBound * permStrides[slice.axis]
    }
    let out = Tensor(uninitialized: outShape, dtype: x.dtype)
    let total = out.count
    if total == 0 { return out }
    let rank = outShape.count
    let inner = outShape[rank - 1]
    let innerStride = permStrides[rank - 1]
    let size = x.dtype.size
    // At least 64 Ki values a chunk: a transformer's per-image transposes (~40 Ki values) run
    // faster on one thread than split (DeiT-tiny at batch 1: about 0.3 ms per forward pass).
    parallelFor(total / inner, grain: max(1, 65536 / max(inner, 1))) { range in
        guard let first = range.first else { return }
        // The output index of the chunk's first run, by division; then counted up run by run.
        var idx = [Int](repeating: 0, count: rank)
        var rem = first
        var base = origin
        for d in stride(from: rank - 2, through: 0, by: -1) {
            idx[d] = rem % outShape[d]
            rem /= outShape[d]
            base += idx[d] * permStrides[d]
        }
        for run in range {
            if run != first {
                var d = rank - 2
                idx[d] += 1
                base += permStrides[d]
                while idx[d] == outShape[d] && d > 0 {
                    base -= outShape[d] * permStrides[d]
                    idx[d] = 0
                    d -= 1
                    idx[d] += 1
                    base += permStrides[d]
                }
            }
            if innerStride == 1 {
                // The innermost axis stays innermost: a contiguous run.
                (out.buffer.raw + run * inner * size).copyMemory(from: x.buffer.raw + base * size, byteCount: inner * size)
            } else if size == 4 {
                let s = x.buffer.raw.assumingMemoryBound(to: Float.self) + base
                let o = out.buffer.raw.assumingMemoryBound(to: Float.self) + run * inner
                for i in 0..<inner { o[i] = s[i * innerStride] }
            } else {
                for i in 0..<inner {
                    (out.buffer.raw + (run * inner + i) * size).copyMemory(from: x.buffer.raw + (base + i * innerStride) * size, byteCount: size)
                }
            }
        }
    }
    return out
}

