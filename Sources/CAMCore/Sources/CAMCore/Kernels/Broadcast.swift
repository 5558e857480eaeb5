internal import CKernels

/// NumPy-style broadcasting: shapes, and a loop nest that visits broadcast operands.

/// The broadcast shape of several shapes, or an error naming them.
func broadcastShape(_ shapes: [[Int]]) throws -> [Int] {
    let rank = shapes.map(\.count).max() ?? 0
    var out = [Int](repeating: 1, count: rank)
    for s in shapes {
        let offset = rank - s.count
        for (i, d) in s.enumerated() {
            let j = offset + i
            if out[j] == 1 { out[j] = d }
            else if d != 1 && d != out[j] {
                throw CAMError(.runtime, "shapes \(shapes.map { "\($0)" }.joined(separator: " and ")) cannot be broadcast together")
            }
        }
    }
    return out
}

/// Row-major strides of `shape`, in elements.
func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
    return strides
}

/// Row-major strides of `shape` aligned to `outShape`, with 0 where the operand is broadcast.
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let offset = outShape.count - shape.count
    var strides = [Int](repeating: 0, count: outShape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[offset + i] = shape[i] == 1 && outShape[offset + i] != 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// A loop nest over a broadcast output, with adjacent dimensions merged where every operand
/// allows it, so the innermost loop is as long as possible.
struct BroadcastLoop {
    /// Merged dimensions (at least one).
    let dims: [Int]
    /// Per operand, merged strides.
    let strides: [[Int]]

    init(outShape: [Int], operandShapes: [[Int]]) {
        var dims = outShape.isEmpty ? [1] : outShape
        var strides = operandShapes.map { outShape.isEmpty ? [0] : broadcastStrides($0, to: outShape) }
        if outShape.isEmpty {
            strides = operandShapes.map { _ in [1] }
        }
        // Drop size-1 dims (they contribute nothing), keeping at least one.
        var keep = dims.indices.filter { dims[$0] != 1 }
        if keep.isEmpty { keep = [dims.count - 1] }
        dims = keep.map { dims[$0] }
        strides = strides.map { s in keep.map { s[$0] } }
        // Merge dim i into i+1 when, for every operand, stride[i] == stride[i+1] * dims[i+1].
        var i = dims.count - 2
        while i >= 0 {
            let mergeable = strides.allSatisfy { $0[i] == $0[i + 1] * dims[i + 1] }
            if mergeable {
                dims[i + 1] *= dims[i]
                dims.remove(at: i)
                for k in strides.indices { strides[k].remove(at: i) }
            }
            i -= 1
        }
        self.dims = dims
        self.strides = strides
    }

    /// Number of innermost runs.
    var outerCount: Int { dims.dropLast().reduce(1, *) }
    var innerCount: Int { dims.last! }

    /// Calls `body(run, operandOffsets)` for outer runs `range`; the output offset of run r is `r * innerCount`.
    @inline(__always)
    func forEachRun(_ range: Range<Int>, _ body: (Int, [Int]) -> Void) {
        let outerDims = dims.dropLast()
        var offsets = [Int](repeating: 0, count: strides.count)
        for run in range {
            var rem = run
            for k in offsets.indices { offsets[k] = 0 }
            var d = outerDims.count - 1
            while d >= 0 {
                let idx = rem % dims[d]
                rem /= dims[d]
                for k in offsets.indices { offsets[k] += idx * strides[k][d] }
                d -= 1
            }
            body(run, offsets)
        }
    }
}

/// `out[i] = f(a[i], b[i])` with broadcasting; `T` in, `R` out.
@inline(__always)
func broadcastBinary<T, R>(_ a: UnsafePointer<T>, _ aShape: [Int], _ b: UnsafePointer<T>, _ bShape: [Int],
                           _ out: UnsafeMutablePointer<R>, _ outShape: [Int], _ f: (T, T) -> R) {
    let loop = BroadcastLoop(outShape: outShape, operandShapes: [aShape, bShape])
    let n = loop.innerCount
    let sa = loop.strides[0].last!, sb = loop.strides[1].last!
    parallelFor(loop.outerCount, grain: max(1, 16384 / max(n, 1))) { range in
        loop.forEachRun(range) { run, offs in
            let o = out + run * n
            let pa = a + offs[0], pb = b + offs[1]
            if sa == 1 && sb == 1 {
                for i in 0..<n { o[i] = f(pa[i], pb[i]) }
            } else if sa == 1 && sb == 0 {
                let vb = pb[0]
                for i in 0..<n { o[i] = f(pa[i], vb) }
            } else if sa == 0 && sb == 1 {
                let va = pa[0]
                for i in 0..<n { o[i] = f(va, pb[i]) }
            } else {
                for i in 0..<n { o[i] = f(pa[i * sa], pb[i * sb]) }
            }
        }
    }
}

/// `out = a op b` on float32 with broadcasting, for + − × ÷: the innermost runs go to the
/// vectorised C kernel (same IEEE results as the scalar loop).
func broadcastArithmetic(_ op: ck_arithmetic, _ a: UnsafePointer<Float>, _ aShape: [Int], _ b: UnsafePointer<Float>, _ bShape: [Int],
                         _ out: UnsafeMutablePointer<Float>, _ outShape: [Int]) {
    let loop = BroadcastLoop(outShape: outShape, operandShapes: [aShape, bShape])
    let n = loop.innerCount
    let sa = loop.strides[0].last!, sb = loop.strides[1].last!
    guard sa <= 1 && sb <= 1 else {
        switch op {
        case CK_ADD: broadcastBinary(a, aShape, b, bShape, out, outShape, +)
        case CK_SUB: broadcastBinary(a, aShape, b, bShape, out, outShape, -)
        case CK_MUL: broadcastBinary(a, aShape, b, bShape, out, outShape, *)
        default: broadcastBinary(a, aShape, b, bShape, out, outShape, /)
        }
        return
    }
    parallelFor(loop.outerCount, grain: max(1, 16384 / max(n, 1))) { range in
        loop.forEachRun(range) { run, offs in
            ck_binary(op, a + offs[0], Int32(sa), b + offs[1], Int32(sb), out + run * n, n)
        }
    }
}

/// Copies `src` (shape `srcShape`) broadcast into `out` (shape `outShape`).
func broadcastCopy(_ src: UnsafeRawPointer, _ srcShape: [Int], _ out: UnsafeMutableRawPointer, _ outShape: [Int], elementSize: Int) {
    let loop = BroadcastLoop(outShape: outShape, operandShapes: [srcShape])
    let n = loop.innerCount
    let s = loop.strides[0].last!
    loop.forEachRun(0..<loop.outerCount) { run, offs in
        let o = out + run * n * elementSize
        let p = src + offs[0] * elementSize
        if s == 1 {
            o.copyMemory(from: p, byteCount: n * elementSize)
        } else {
            for i in 0..<n { (o + i * elementSize).copyMemory(from: p + i * s * elementSize, byteCount: elementSize) }
        }
    }
}
