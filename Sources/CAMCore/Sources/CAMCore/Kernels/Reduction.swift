/// Sums `x` into `shape`, which must broadcast to `x.shape` (the transpose of broadcasting).
func sumToShape(_ x: Tensor, _ shape: [Int]) throws -> Tensor {
    if x.shape == shape { return x }
    let full = try broadcastShape([x.shape, shape])
    guard full == x.shape else {
        throw CAMError(.runtime, "cannot sum \(x.shape) to \(shape): \(shape) does not broadcast to it")
    }
    let out = Tensor(zeros: shape)
    let po = out.mutableFloats.baseAddress!, px = x.floats.baseAddress!
    let loop = BroadcastLoop(outShape: x.shape, operandShapes: [shape])
    let n = loop.innerCount
    let s = loop.strides[0].last!
    loop.forEachRun(0..<loop.outerCount) { run, offs in
        let src = px + run * n
        let dst = po + offs[0]
        if s == 0 {
            var acc: Float = 0
            for i in 0..<n { acc += src[i] }
            dst[0] += acc
        } else {
            for i in 0..<n { dst[i] += src[i] }
        }
    }
    return out
}

/// `x` broadcast to `shape` (materialised).
func broadcastTo(_ x: Tensor, _ shape: [Int]) throws -> Tensor {
    if x.shape == shape { return x }
    let full = try broadcastShape([x.shape, shape])
    guard full == shape else { throw CAMError(.runtime, "cannot broadcast \(x.shape) to \(shape)") }
    let out = Tensor(uninitialized: shape, dtype: x.dtype)
    broadcastCopy(x.buffer.raw, x.shape, out.buffer.raw, shape, elementSize: x.dtype.size)
    return out
}

/// Normalises possibly-negative `axes` against `rank`, rejecting out-of-range and repeated ones.
func normalizeAxes(_ axes: [Int], rank: Int, op: String) throws -> [Int] {
    var out: [Int] = []
    for a in axes {
        let n = a < 0 ? a + rank : a
        guard n >= 0 && n < rank else { throw CAMError(.invalidModel, "\(op): axis \(a) is out of range for rank \(rank)") }
        guard !out.contains(n) else { throw CAMError(.invalidModel, "\(op): axis \(a) is repeated") }
        out.append(n)
    }
    return out.sorted()
}
