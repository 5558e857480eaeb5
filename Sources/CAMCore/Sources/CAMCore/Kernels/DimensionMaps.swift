/// Gathers and scatters where each output coordinate along dimension d reads input
/// coordinate `maps[d][i]` (or nothing, when it is -1). Slice, Pad and their backwards are
/// all instances of this.

/// `out[i0, i1, …] = src[maps[0][i0], maps[1][i1], …]`, or `fill` where any map is -1.
func gatherByDimensionMaps(_ src: Tensor, maps: [[Int]], fill: Tensor?) -> Tensor {
    let outShape = maps.map(\.count)
    let out = Tensor(uninitialized: outShape, dtype: src.dtype)
    let size = src.dtype.size
    let total = out.count
    if total == 0 { return out }
    let srcStrides = rowMajorStrides(src.shape)
    let rank = outShape.count
    let inner = outShape[rank - 1]
    let lastMap = maps[rank - 1]
    let lastStride = srcStrides[rank - 1]
    let outer = total / inner
    let fillBytes = fill.map { $0.buffer.raw } 
    var zero = [UInt8](repeating: 0, count: 8)
    zero.withUnsafeMutableBytes { zeroRaw in
        let fillPtr = UnsafeRawPointer(fillBytes ?? UnsafeMutableRawPointer(zeroRaw.baseAddress!))
        var idx = [Int](repeating: 0, count: rank)
        for run in 0..<outer {
            var rem = run
            var base = 0
            var valid = true
            for d in stride(from: rank - 2, through: 0, by: -1) {
                idx[d] = rem % outShape[d]
                rem /= outShape[d]
                let m = maps[d][idx[d]]
                if m < 0 { valid = false } else { base += m * srcStrides[d] }
            }
            let dst = out.buffer.raw + run * inner * size
            if size == 4 && valid {
                let s = src.buffer.raw.assumingMemoryBound(to: Float.self) + base
                let o = dst.assumingMemoryBound(to: Float.self)
                let f = fillPtr.load(as: Float.self)
                for i in 0..<inner { let m = lastMap[i]; o[i] = m < 0 ? f : s[m * lastStride] }
            } else {
                for i in 0..<inner {
                    let m = lastMap[i]
                    let from = valid && m >= 0 ? UnsafeRawPointer(src.buffer.raw + (base + m * lastStride) * size) : fillPtr
                    (dst + i * size).copyMemory(from: from, byteCount: size)
                }
            }
        }
    }
    return out
}

/// The transpose of `gatherByDimensionMaps` for float32: `out` of `shape` starts at zero and
/// every `g[i0, i1, …]` is added to `out[maps[0][i0], …]` where no map is -1.
func scatterAddByDimensionMaps(_ g: Tensor, maps: [[Int]], shape: [Int]) -> Tensor {
    let out = Tensor(zeros: shape)
    let gShape = maps.map(\.count)
    let total = g.count
    if total == 0 { return out }
    let strides = rowMajorStrides(shape)
    let rank = gShape.count
    let inner = gShape[rank - 1]
    let lastMap = maps[rank - 1]
    let lastStride = strides[rank - 1]
    let po = out.mutableFloats.baseAddress!, pg = g.floats.baseAddress!
    var idx = [Int](repeating: 0, count: rank)
    for run in 0..<(total / inner) {
        var rem = run
        var base = 0
        var valid = true
        for d in stride(from: rank - 2, through: 0, by: -1) {
            idx[d] = rem % gShape[d]
            rem /= gShape[d]
            let m = maps[d][idx[d]]
            if m < 0 { valid = false } else { base += m * strides[d] }
        }
        guard valid else { continue }
        let src = pg + run * inner
        for i in 0..<inner where lastMap[i] >= 0 { po[base + lastMap[i] * lastStride] += src[i] }
    }
    return out
}
