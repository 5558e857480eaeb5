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

    func geometry(_ shape: [Int], op: String) throws -> WindowGeometry {
        var pad = padding
        if case .explicit(let p) = padding, p.isEmpty { pad = .explicit([Int](repeating: 0, count: 2 * kernel.count)) }
        guard shape.count == kernel.count + 2 else {
            throw CAMError(.runtime, "\(op): input \(shape) does not match a \(kernel.count)-D kernel \(kernel)")
        }
        return try WindowGeometry(inputShape: shape, kernel: kernel, strides: strides, dilations: dilations, padding: pad, ceilMode: ceilMode, op: op)
    }
}

extension WindowGeometry {
    /// Visits every output position of one plane with the valid input offsets of its window.
    @inline(__always)
    func forEachWindow(_ body: (_ out: Int, _ rows: StrideTo<Int>, _ cols: StrideTo<Int>, _ paddedCount: Int) -> Void) {
        for oy in 0..<outHeight {
            let y0 = oy * strideH - padTop
            let yEnd = Swift.min(y0 + (kernelH - 1) * dilationH + 1, height + padBottom)
            var yLo = y0
            while yLo < 0 { yLo += dilationH }
            let yHi = Swift.min(yEnd, height)
            for ox in 0..<outWidth {
                let x0 = ox * strideW - padLeft
                let xEnd = Swift.min(x0 + (kernelW - 1) * dilationW + 1, width + padRight)
                var xLo = x0
                while xLo < 0 { xLo += dilationW }
                let xHi = Swift.min(xEnd, width)
                // Window size clipped to the padded input (for count_include_pad).
                let paddedCount = ((yEnd - y0 + dilationH - 1) / dilationH) * ((xEnd - x0 + dilationW - 1) / dilationW)
                body(oy * outWidth + ox, stride(from: yLo, to: yHi, by: dilationH), stride(from: xLo, to: xHi, by: dilationW), paddedCount)
            }
        }
    }
}

/// Index (within its plane) of the maximum of each window; -1 for windows with no input.
func maxPoolArgmax(_ x: Tensor, _ g: WindowGeometry) -> [Int32] {
    let planes = g.batch * g.channels, hw = g.height * g.width, p = g.outHeight * g.outWidth
    var arg = [Int32](repeating: -1, count: planes * p)
    let px = x.floats.baseAddress!
    arg.withUnsafeMutableBufferPointer { a in
        let pa = a.baseAddress!
        parallelEach(planes) { plane in
            let src = px + plane * hw
            g.forEachWindow { o, rows, cols, _ in
                var best = -Float.infinity
                var at: Int32 = -1
                for y in rows {
                    for xx in cols {
                        let v = src[y * g.width + xx]
                        if v > best || v.isNaN || at < 0 { best = v; at = Int32(y * g.width + xx); if v.isNaN { break } }
                    }
                }
                pa[plane * p + o] = at
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

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.dtype == .float32 else { throw CAMError(.invalidModel, "MaxPool needs a float32 input") }
        let g = try window.geometry(x.shape, op: name)
        let out = Tensor(uninitialized: g.outputShape(channels: g.channels, spatialRank: x.rank - 2))
        let hw = g.height * g.width, p = g.outHeight * g.outWidth
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        parallelEach(g.batch * g.channels) { plane in
            let src = px + plane * hw, dst = po + plane * p
            g.forEachWindow { o, rows, cols, _ in
                var best = -Float.infinity
                for y in rows {
                    for xx in cols {
                        let v = src[y * g.width + xx]
                        if v > best || v.isNaN { best = v }
                    }
                }
                dst[o] = best
            }
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

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.dtype == .float32 else { throw CAMError(.invalidModel, "AveragePool needs a float32 input") }
        let g = try window.geometry(x.shape, op: name)
        let out = Tensor(uninitialized: g.outputShape(channels: g.channels, spatialRank: x.rank - 2))
        let hw = g.height * g.width, p = g.outHeight * g.outWidth
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let includePad = countIncludePad
        parallelEach(g.batch * g.channels) { plane in
            let src = px + plane * hw, dst = po + plane * p
            g.forEachWindow { o, rows, cols, padded in
                var sum: Float = 0
                var n = 0
                for y in rows { for xx in cols { sum += src[y * g.width + xx]; n += 1 } }
                let divisor = includePad ? padded : n
                dst[o] = divisor > 0 ? sum / Float(divisor) : 0
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
        parallelEach(g.batch * g.channels) { plane in
            let src = pg + plane * p, dst = po + plane * hw
            g.forEachWindow { o, rows, cols, padded in
                var n = 0
                for _ in rows { for _ in cols { n += 1 } }
                let divisor = includePad ? padded : n
                guard divisor > 0 else { return }
                let v = src[o] / Float(divisor)
                for y in rows { for xx in cols { dst[y * g.width + xx] += v } }
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
