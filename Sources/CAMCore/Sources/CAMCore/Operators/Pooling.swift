internal import CKernels

/// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (1-D and 2-D windows), and the
/// backward operators that route gradients through them.

/// The window attributes shared by MaxPool and AveragePool.
public struct PoolWindow: Sendable, Equatable {
    public let kernel: [Int]
    public let strides: [Int]
    public let dilations: [Int]
    public let padding: Padding
    public let ceilMode: Bool

    public init(kernel: [Int], strides: [Int] = [], dilations: [Int] = [], padding: Padding = .explicit([]), ceilMode: Bool = false) {
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.padding = padding
        self.ceilMode = ceilMode
    }

    /// Kernel, strides and dilations positive; pads non-negative.
    func validate() throws {
        guard !kernel.isEmpty, kernel.allSatisfy({ $0 > 0 }) else { throw CAMError(.invalidModel, "kernel_shape must be positive, got \(kernel)") }
        guard strides.allSatisfy({ $0 > 0 }) else { throw CAMError(.invalidModel, "strides must be positive, got \(strides)") }
        guard dilations.allSatisfy({ $0 > 0 }) else { throw CAMError(.invalidModel, "dilations must be positive, got \(dilations)") }
        if case .explicit(let pads) = padding, pads.contains(where: { $0 < 0 }) {
            throw CAMError(.invalidModel, "pads must not be negative, got \(pads)")
        }
    }

    func geometry(_ shape: [Int], op: String) throws -> WindowGeometry {
        var pad = padding
        if case .explicit(let p) = padding, p.isEmpty { pad = .explicit([Int](repeating: 0, count: 2 * kernel.count)) }
        guard shape.count == kernel.count + 2 else {
            throw CAMError(.runtime, "\(op): input \(shape) does not match a \(kernel.count)-D kernel \(kernel)")
        }
        return try WindowGeometry(inputShape: shape, kernel: kernel, strides: strides, dilations: dilations, padding: pad, ceilMode: ceilMode, op: op)
    }
}

/// The input rows or columns one pooling window covers, clipped to the input.
struct WindowSpan {
    /// First covered coordinate, one past the last, and the step (the dilation).
    var start: Int, end: Int, step: Int
    /// Window size clipped to the padded input (for count_include_pad).
    var padded: Int
    @inline(__always) var count: Int { end > start ? (end - start + step - 1) / step : 0 }
}

extension WindowGeometry {
    /// The span of rows of output row `o` (or columns, for `columns`).
    @inline(__always)
    func span(_ o: Int, columns: Bool) -> WindowSpan {
        let (s, p, k, d, n, pe) = columns ? (strideW, padLeft, kernelW, dilationW, width, padRight)
                                          : (strideH, padTop, kernelH, dilationH, height, padBottom)
        let first = o * s - p
        let paddedEnd = Swift.min(first + (k - 1) * d + 1, n + pe)
        var start = first
        if start < 0 { start += ((-start + d - 1) / d) * d }
        return WindowSpan(start: start, end: Swift.min(paddedEnd, n), step: d, padded: (paddedEnd - first + d - 1) / d)
    }

    /// Row and column spans of every output position, computed once per call.
    var spans: (rows: [WindowSpan], columns: [WindowSpan]) {
        ((0..<outHeight).map { span($0, columns: false) }, (0..<outWidth).map { span($0, columns: true) })
    }
}

/// Max pooling of one plane, separably: for each output row, the input rows its window
/// covers are pooled into a scratch row (contiguous loops the compiler vectorises), which is
/// then pooled horizontally — so the strided horizontal pass runs on output rows only, not on
/// every input row. NaN propagates.
func maxPoolPlane(_ src: UnsafePointer<Float>, _ g: WindowGeometry, _ dst: UnsafeMutablePointer<Float>) {
    let (h, w, oh, ow) = (g.height, g.width, g.outHeight, g.outWidth)
    let column = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(w, 1))
    defer { column.deallocate() }
    @inline(__always) func pick(_ v: Float, _ cur: Float) -> Float { v > cur || v.isNaN ? v : cur }
    // Output columns whose whole window lies inside the row (no bounds checks needed there).
    let first = -g.padLeft, span = (g.kernelW - 1) * g.dilationW
    var innerLo = 0, innerHi = ow
    while innerLo < ow && innerLo * g.strideW + first < 0 { innerLo += 1 }
    while innerHi > innerLo && (innerHi - 1) * g.strideW + first + span >= w { innerHi -= 1 }
    for oy in 0..<oh {
        // Down the window's rows.
        column.update(repeating: -.infinity, count: w)
        for ky in 0..<g.kernelH {
            let iy = oy * g.strideH - g.padTop + ky * g.dilationH
            if iy < 0 || iy >= h { continue }
            let row = src + iy * w
            for x in 0..<w { column[x] = pick(row[x], column[x]) }
        }
        // Along the pooled row. Edge columns: window by window, clipped.
        let t = dst + oy * ow
        for side in 0..<2 {
            for ox in side == 0 ? 0..<innerLo : innerHi..<ow {
                var m = -Float.infinity
                for kx in 0..<g.kernelW {
                    let ix = ox * g.strideW + first + kx * g.dilationW
                    if ix >= 0 && ix < w { m = pick(column[ix], m) }
                }
                t[ox] = m
            }
        }
        // Inside: the common 3-wide / 2-wide stride-2 windows get loops the compiler
        // vectorises; other shapes a register-accumulated loop.
        let base = UnsafePointer(column) + first
        if g.kernelW == 3 && g.strideW == 2 && g.dilationW == 1 {
            for ox in innerLo..<innerHi { t[ox] = pick(pick(base[2 * ox], base[2 * ox + 1]), base[2 * ox + 2]) }
        } else if g.kernelW == 2 && g.strideW == 2 && g.dilationW == 1 {
            for ox in innerLo..<innerHi { t[ox] = pick(base[2 * ox], base[2 * ox + 1]) }
        } else {
            for ox in innerLo..<innerHi {
                let p = base + ox * g.strideW
                var m = p[0]
                for kx in 1..<Swift.max(g.kernelW, 1) { m = pick(p[kx * g.dilationW], m) }
                t[ox] = m
            }
        }
    }
}

/// Index (within its plane) of the maximum of each window; -1 for windows with no input.
func maxPoolArgmax(_ x: Tensor, _ g: WindowGeometry) -> [Int32] {
    let planes = g.batch * g.channels, hw = g.height * g.width, p = g.outHeight * g.outWidth
    var arg = [Int32](repeating: -1, count: planes * p)
    let px = x.floats.baseAddress!
    let (rows, cols) = g.spans
    let w = g.width
    arg.withUnsafeMutableBufferPointer { a in
        let pa = a.baseAddress!
        parallelEach(planes) { plane in
            let src = px + plane * hw
            for (oy, r) in rows.enumerated() {
                for (ox, c) in cols.enumerated() {
                    var best = -Float.infinity
                    var at: Int32 = -1
                    var y = r.start
                    while y < r.end {
                        var x = c.start
                        while x < c.end {
                            let v = src[y * w + x]
                            if at < 0 || v > best || (v.isNaN && !best.isNaN) { best = v; at = Int32(y * w + x) }
                            x += c.step
                        }
                        y += r.step
                    }
                    pa[plane * p + oy * g.outWidth + ox] = at
                }
            }
        }
    }
    return arg
}

/// `MaxPool(x)`, with the optional `Indices` output: the flat index of each maximum in the
/// input, row-major (or with H and W swapped when `columnMajorIndices`, ONNX's storage_order 1).
public struct MaxPool: Operator {
    public enum IndexOrder: Sendable { case rowMajor, columnMajor }
    public let window: PoolWindow
    /// Whether (and how) to produce the Indices output.
    public let indexOrder: IndexOrder?
    public init(_ window: PoolWindow, indices: IndexOrder? = nil) {
        self.window = window
        self.indexOrder = indices
    }
    public var name: String { "MaxPool" }
    public func validate() throws { try window.validate() }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.dtype == .float32 else { throw CAMError(.invalidModel, "MaxPool needs a float32 input") }
        let g = try window.geometry(x.shape, op: name)
        let out = Tensor(uninitialized: g.outputShape(channels: g.channels, spatialRank: x.rank - 2))
        let hw = g.height * g.width, p = g.outHeight * g.outWidth
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let window = g.kernelWindow
        parallelEach(g.batch * g.channels) { plane in
            // The AVX-512 kernel where it runs, else the portable loop.
            var w = window
            if ck_maxpool_plane(px + plane * hw, &w, po + plane * p) != 0 { maxPoolPlane(px + plane * hw, g, po + plane * p) }
        }
        return indexOrder == nil ? [out] : [out, indices(x, g)]
    }

    /// The Indices output (int64), computed from the same argmax the backward uses.
    func indices(_ x: Tensor, _ g: WindowGeometry) -> Tensor {
        let arg = maxPoolArgmax(x, g)
        let hw = g.height * g.width, p = g.outHeight * g.outWidth
        let out = Tensor(uninitialized: g.outputShape(channels: g.channels, spatialRank: x.rank - 2), dtype: .int64)
        let po = out.mutableInt64s
        for plane in 0..<(g.batch * g.channels) {
            for o in 0..<p {
                let a = Int(arg[plane * p + o])
                let local = indexOrder == .columnMajor ? (a % g.width) * g.height + a / g.width : a
                po[plane * p + o] = Int64(plane * hw + local)
            }
        }
        return out
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil] }
        return [b.apply(MaxPoolBackward(window: window, transposed: false), g, try node.input(0))]
    }
}

/// Routes gradients through max pooling. Inputs (g, x).
/// - `transposed == false`: scatters each output gradient to its window's argmax (shape of x).
/// - `transposed == true`: gathers from the argmax positions (shape of the pooled output);
///   the VJP of each is the other.
public struct MaxPoolBackward: Operator {
    public let window: PoolWindow
    public let transposed: Bool
    public init(window: PoolWindow, transposed: Bool) { self.window = window; self.transposed = transposed }
    public var name: String { transposed ? "MaxPoolSelect" : "MaxPoolBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let gIn = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "\(name) takes (g, x)") }
        let geo = try window.geometry(x.shape, op: "MaxPool")
        let arg = maxPoolArgmax(x, geo)
        let hw = geo.height * geo.width, p = geo.outHeight * geo.outWidth
        let planes = geo.batch * geo.channels
        if transposed {
            let out = Tensor(uninitialized: geo.outputShape(channels: geo.channels, spatialRank: x.rank - 2))
            let pg = gIn.floats.baseAddress!, po = out.mutableFloats.baseAddress!
            for plane in 0..<planes {
                for o in 0..<p {
                    let a = Int(arg[plane * p + o])
                    po[plane * p + o] = a < 0 ? 0 : pg[plane * hw + a]
                }
            }
            return [out]
        }
        let out = Tensor(zeros: x.shape)
        let pg = gIn.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        parallelEach(planes) { plane in
            for o in 0..<p {
                let a = Int(arg[plane * p + o])
                if a >= 0 { po[plane * hw + a] += pg[plane * p + o] }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        return [b.apply(MaxPoolBackward(window: window, transposed: !transposed), gg, try node.input(1)), nil]
    }
}

/// `AveragePool(x)` with `count_include_pad`.
public struct AveragePool: Operator {
    public let window: PoolWindow
    public let countIncludePad: Bool
    public init(_ window: PoolWindow, countIncludePad: Bool = false) { self.window = window; self.countIncludePad = countIncludePad }
    public var name: String { "AveragePool" }
    public func validate() throws { try window.validate() }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.dtype == .float32 else { throw CAMError(.invalidModel, "AveragePool needs a float32 input") }
        let g = try window.geometry(x.shape, op: name)
        let out = Tensor(uninitialized: g.outputShape(channels: g.channels, spatialRank: x.rank - 2))
        let hw = g.height * g.width, p = g.outHeight * g.outWidth
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let includePad = countIncludePad
        let (rows, cols) = g.spans
        let w = g.width, ow = g.outWidth
        parallelEach(g.batch * g.channels) { plane in
            let src = px + plane * hw, dst = po + plane * p
            for (oy, r) in rows.enumerated() {
                for (ox, c) in cols.enumerated() {
                    var sum: Float = 0
                    var y = r.start
                    while y < r.end {
                        var x = c.start
                        while x < c.end { sum += src[y * w + x]; x += c.step }
                        y += r.step
                    }
                    let divisor = includePad ? r.padded * c.padded : r.count * c.count
                    dst[oy * ow + ox] = divisor > 0 ? sum / Float(divisor) : 0
                }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil] }
        return [b.apply(AveragePoolBackward(pool: self), g, try node.input(0))]
    }
}

/// Backward of `AveragePool`: inputs (g, x); spreads each output gradient over its window.
/// Its VJP is the average pooling again.
public struct AveragePoolBackward: Operator {
    public let pool: AveragePool
    public init(pool: AveragePool) { self.pool = pool }
    public var name: String { "AveragePoolBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let gy = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "AveragePoolBackward takes (g, x)") }
        let g = try pool.window.geometry(x.shape, op: "AveragePool")
        let out = Tensor(zeros: x.shape)
        let hw = g.height * g.width, p = g.outHeight * g.outWidth
        let pg = gy.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let includePad = pool.countIncludePad
        let (rows, cols) = g.spans
        let w = g.width, ow = g.outWidth
        parallelEach(g.batch * g.channels) { plane in
            let src = pg + plane * p, dst = po + plane * hw
            for (oy, r) in rows.enumerated() {
                for (ox, c) in cols.enumerated() {
                    let divisor = includePad ? r.padded * c.padded : r.count * c.count
                    guard divisor > 0 else { continue }
                    let v = src[oy * ow + ox] / Float(divisor)
                    var y = r.start
                    while y < r.end {
                        var x = c.start
                        while x < c.end { dst[y * w + x] += v; x += c.step }
                        y += r.step
                    }
                }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        return [b.apply(pool, gg), nil]
    }
}

/// `GlobalAveragePool` and `GlobalMaxPool`: reduce every spatial axis, keeping them as 1.
public struct GlobalPool: Operator {
    public enum Kind: String, Sendable { case average = "GlobalAveragePool", max = "GlobalMaxPool" }
    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public var name: String { kind.rawValue }

    func reduction(rank: Int) -> (Reduce, Tensor) {
        (Reduce(kind == .average ? .mean : .max, keepDims: true), Tensor(shape: [rank - 2], int64s: (2..<rank).map(Int64.init)))
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.rank >= 3, x.dtype == .float32 else {
            throw CAMError(.invalidModel, "\(name) needs a float32 (N, C, spatial…) input")
        }
        let n = x.shape[0], c = x.shape[1]
        let plane = x.count / Swift.max(n * c, 1)
        let out = Tensor(uninitialized: [n, c] + [Int](repeating: 1, count: x.rank - 2))
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let isMax = kind == .max
        parallelFor(n * c, grain: Swift.max(1, 8192 / Swift.max(plane, 1))) { r in
            for i in r {
                let s = px + i * plane
                if isMax {
                    var m = -Float.infinity
                    for j in 0..<plane where s[j] > m || s[j].isNaN { m = s[j] }
                    po[i] = m
                } else {
                    var acc: Float = 0
                    for j in 0..<plane { acc += s[j] }
                    po[i] = acc / Float(plane)
                }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil] }
        let x = try node.input(0)
        switch kind {
        case .average:
            return [b.apply(GlobalAveragePoolBackward(), g, x)]
        case .max:
            let spread = b.apply(BroadcastToShapeOf(), node.outputs[0], x)
            let mask = b.apply(Compare(.equal), x, spread)
            let zero = b.constant(Tensor(scalar: 0))
            return [b.apply(Where(), mask, b.apply(BroadcastToShapeOf(), g, x), zero)]
        }
    }
}

/// Backward of `GlobalAveragePool`: inputs (g, x); `g / (spatial size)` broadcast over x.
/// Its VJP is the global average pool.
public struct GlobalAveragePoolBackward: Operator {
    public init() {}
    public var name: String { "GlobalAveragePoolBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "GlobalAveragePoolBackward takes (g, x)") }
        let n = x.shape[0], c = x.shape[1]
        let plane = x.count / Swift.max(n * c, 1)
        guard g.count == n * c else { throw CAMError(.runtime, "GlobalAveragePoolBackward: gradient \(g.shape) does not match \(x.shape)") }
        let out = Tensor(uninitialized: x.shape)
        let pg = g.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let scale = 1 / Float(plane)
        parallelFor(n * c, grain: Swift.max(1, 8192 / Swift.max(plane, 1))) { r in
            for i in r { (po + i * plane).update(repeating: pg[i] * scale, count: plane) }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        return [b.apply(GlobalPool(.average), gg), nil]
    }
}
