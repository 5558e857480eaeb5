internal import CKernels

/// `Conv(x, W, B?)`: grouped 1-D/2-D convolution (depthwise included) with strides,
/// dilations and explicit or automatic padding; and `ConvBackwardData`, its VJP with
/// respect to `x` (a transposed convolution), whose own VJP is `Conv` again.
///
/// `GraphOptimizer` fuses what follows a convolution into it: a residual `Add` (a fourth input
/// R, `y = conv(x, W) + B + R`) and then a ReLU or Clip (`activation`), all applied to each
/// output plane while it is in cache, in the order the separate operators would round them.
public struct Convolution: Operator {
    /// An activation applied to the output in the same pass as the bias (fused by
    /// `GraphOptimizer` when the pre-activation tensor is not needed, or set by a loader).
    public enum Activation: Sendable, Equatable {
        case relu
        case clip(Float, Float)
    }

    public let strides: [Int]
    public let dilations: [Int]
    public let padding: Padding
    public let group: Int
    /// Declared kernel size; checked against the weights when given.
    public let kernelShape: [Int]?
    public let activation: Activation?
    /// Whether a fourth input, a tensor of the output's shape, is added before the activation.
    public let addsResidual: Bool

    public init(strides: [Int] = [], dilations: [Int] = [], padding: Padding = .explicit([]), group: Int = 1,
                kernelShape: [Int]? = nil, activation: Activation? = nil, addsResidual: Bool = false) {
        self.strides = strides
        self.dilations = dilations
        self.padding = padding
        self.group = group
        self.kernelShape = kernelShape
        self.activation = activation
        self.addsResidual = addsResidual
    }

    /// The same convolution with `activation` fused.
    public func fused(_ activation: Activation) -> Convolution {
        Convolution(strides: strides, dilations: dilations, padding: padding, group: group, kernelShape: kernelShape,
                    activation: activation, addsResidual: addsResidual)
    }

    /// The same convolution adding its fourth input, a residual, to the output.
    public func addingResidual() -> Convolution {
        Convolution(strides: strides, dilations: dilations, padding: padding, group: group, kernelShape: kernelShape,
                    activation: activation, addsResidual: true)
    }

    /// The plain convolution, nothing fused.
    var unfused: Convolution {
        Convolution(strides: strides, dilations: dilations, padding: padding, group: group, kernelShape: kernelShape)
    }

    public var name: String { "Conv" + (addsResidual ? "+Add" : "") + (activation == nil ? "" : "+Activation") }

    public func validate() throws {
        guard group > 0 else { throw CAMError(.invalidModel, "group must be positive, got \(group)") }
        guard strides.allSatisfy({ $0 > 0 }) else { throw CAMError(.invalidModel, "strides must be positive, got \(strides)") }
        guard dilations.allSatisfy({ $0 > 0 }) else { throw CAMError(.invalidModel, "dilations must be positive, got \(dilations)") }
        if case .explicit(let pads) = padding, pads.contains(where: { $0 < 0 }) {
            throw CAMError(.invalidModel, "pads must not be negative, got \(pads)")
        }
        if let k = kernelShape, k.contains(where: { $0 <= 0 }) { throw CAMError(.invalidModel, "kernel_shape must be positive, got \(k)") }
    }

    /// Validates shapes and resolves the window geometry for input `x` and weights `w`.
    func geometry(_ xShape: [Int], _ wShape: [Int]) throws -> WindowGeometry {
        guard xShape.count >= 3, wShape.count == xShape.count else {
            throw CAMError(.runtime, "Conv: input \(xShape) and weights \(wShape) must both be (N, C, spatial…) of the same rank")
        }
        guard group > 0, xShape[1] == wShape[1] * group, wShape[0] % group == 0 else {
            throw CAMError(.runtime, "Conv: input has \(xShape[1]) channels, weights \(wShape) with group \(group) expect \(wShape[1] * group) (and output channels divisible by the group)")
        }
        let kernel = Array(wShape[2...])
        if let k = kernelShape, k != kernel {
            throw CAMError(.invalidModel, "Conv: kernel_shape \(k) does not match weights \(wShape)")
        }
        var pad = padding
        if case .explicit(let p) = padding, p.isEmpty { pad = .explicit([Int](repeating: 0, count: 2 * kernel.count)) }
        return try WindowGeometry(inputShape: xShape, kernel: kernel, strides: strides, dilations: dilations, padding: pad, op: name)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let x = inputs[0], let w = inputs[1] else { throw CAMError(.invalidModel, "Conv takes (x, W, B?)") }
        guard x.dtype == .float32, w.dtype == .float32 else { throw CAMError(.unsupported, "Conv on \(x.dtype) is not supported") }
        let g = try geometry(x.shape, w.shape)
        let m = w.shape[0]
        var bias: Tensor?
        if inputs.count > 2, let b = inputs[2] {
            guard b.count == m, b.dtype == .float32 else { throw CAMError(.runtime, "Conv: bias has \(b.count) values for \(m) output channels") }
            bias = b
        }
        let out = Tensor(uninitialized: g.outputShape(channels: m, spatialRank: x.rank - 2))
        var residual: Tensor?
        if addsResidual {
            guard inputs.count > 3, let r = inputs[3], r.dtype == .float32 else { throw CAMError(.invalidModel, "Conv+Add takes (x, W, B?, R)") }
            guard r.shape == out.shape else {
                // A residual that broadcasts: the operators one after the other.
                let y = try Binary.evaluate(.add, try unfused.forward(Array(inputs[0..<3]))[0], r)
                applyBiasAndActivation(y, bias: nil, activation: activation)
                return [y]
            }
            residual = r
        }
        convolve(x, w, g, out, epilogue: OutputEpilogue(bias: bias, activation: activation, residual: residual, output: out))
        return [out]
    }

    /// `out = activation(conv(x, w) + bias)`; the bias and activation are applied to each
    /// output plane as soon as it is computed, while it is in cache.
    func convolve(_ x: Tensor, _ w: Tensor, _ g: WindowGeometry, _ out: Tensor, epilogue: OutputEpilogue) {
        let c = g.channels, m = w.shape[0]
        let cg = c / group, mg = m / group
        let hw = g.height * g.width, p = g.outHeight * g.outWidth
        let k = cg * g.kernelH * g.kernelW
        let px = x.floats.baseAddress!, pw = w.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        defer { withExtendedLifetime((x, w, out, epilogue)) {} }
        if cg == 1 && mg == 1 {
            let inDouble = Runtime.gemmAccumulation == .double
            if !inDouble && depthwiseInChannelBlocks(px, pw, g, channels: c, po, epilogue: epilogue) { return }
            // The plane-at-a-time kernel applies bias and clamp itself; a residual comes after.
            let own = epilogue.addsResidual ? OutputEpilogue(bias: nil, activation: nil) : epilogue
            parallelEach(g.batch * c) { plane in
                let ch = plane % c
                depthwisePlane(px + plane * hw, pw + ch * g.kernelH * g.kernelW, g, po + plane * p, epilogue: own, channel: ch, inDouble: inDouble)
                if epilogue.addsResidual { epilogue.apply(po + plane * p, count: p, channel: ch) }
            }
            return
        }
        if let tile = Winograd.tile(for: g, group: group, inChannels: c, outChannels: m) {
            let u = WinogradFilterCache.filters(for: w, transposed: false, tile: tile)
            Winograd.convolve(px, batch: g.batch, inChannels: c, height: g.height, width: g.width, padTop: g.padTop, padLeft: g.padLeft,
                              tile: tile, filters: u, outChannels: m, outHeight: g.outHeight, outWidth: g.outWidth, po,
                              epilogue: epilogue)
            withExtendedLifetime(u) {}
            return
        }
        // Group-1 weights packed once for the AVX-512 product (nil where it does not run).
        let packed = group == 1 ? PackedWeights.matrix(for: w) : nil
        // Unfolded implicitly, straight from the input: at batch 1, and for planes large enough
        // to run in bands (smaller ones of a batch are unfolded side by side below, so that
        // the filters are read once for all the images).
        if let packed, ImplicitConvolution.applies(g) && (g.batch == 1 || TiledConvolution.applies(g, group: group)) {
            ImplicitConvolution.convolve(px, packed: packed, g, outChannels: m, po, epilogue: epilogue)
            return
        }
        if TiledConvolution.applies(g, group: group) {
            TiledConvolution.convolve(px, pw, packed: packed, g, outChannels: m, po, epilogue: epilogue)
            return
        }
        let pointwise = g.isPointwise
        // A 1×1 convolution of a batch whose weights are small next to its planes, or whose
        // planes are small enough for the thin product (7 × 7): one GEMM per image, straight
        // from the input into the output, the images shared among the threads. (Unfolding the
        // images side by side instead costs a copy in and a copy out: EfficientNet-Lite0's
        // 7 × 7 projections at batch 8 took 0.12 ms per image that way, 0.09 this way.)
        if pointwise && group == 1 && g.batch > 1 && (m * k < 2 * (k + m) * p || PackedMatrix.runsThin(columns: p)) {
            parallelEachInShares(g.batch) { n in
                let dst = po + n * m * p
                if let packed {
                    packed.multiply(rows: 0..<m, px + n * c * hw, ldb: p, n: p, into: dst, ldc: p, epilogue: epilogue)
                } else {
                    sgemmSerial(m: m, n: p, k: k, a: pw, lda: k, b: px + n * c * hw, ldb: p, c: dst, ldc: p)
                    for ch in 0..<m { epilogue.apply(dst + ch * p, count: p, channel: ch) }
                }
            }
            return
        }
        // Small output planes make thin GEMMs (n = h·w): for a batch, unfold every image side
        // by side and multiply once, so the weights are read once instead of once per image.
        if group == 1 && g.batch > 1 && p < TiledConvolution.minimumPlane {
            let np = g.batch * p
            let colScratch = PooledFloats(count: k * np), productScratch = PooledFloats(count: m * np)
            defer { colScratch.release(); productScratch.release() }
            let (cols, product) = (colScratch.pointer, productScratch.pointer)
            // Image n's unfolded patches become columns n·p ..< (n+1)·p.
            if pointwise {
                parallelFor(g.batch * k, grain: Swift.max(1, 16384 / p)) { rows in
                    for i in rows {
                        let (n, row) = i.quotientAndRemainder(dividingBy: k)
                        (cols + row * np + n * p).update(from: px + n * c * hw + row * p, count: p)
                    }
                }
            } else {
                for n in 0..<g.batch { im2col(px + n * c * hw, channels: c, g, cols + n * p, rowPitch: np) }
            }
            if let packed {
                packed.multiply(cols, ldb: np, n: np, into: product, ldc: np)
            } else {
                sgemm(m: m, n: np, k: k, a: pw, lda: k, b: cols, ldb: np, c: product, ldc: np)
            }
            parallelFor(g.batch * m, grain: Swift.max(1, 16384 / p)) { planes in
                for i in planes {
                    let (n, row) = i.quotientAndRemainder(dividingBy: m)
                    let dst = po + (n * m + row) * p
                    dst.update(from: product + row * np + n * p, count: p)
                    epilogue.apply(dst, count: p, channel: row)
                }
            }
            return
        }
        let colScratch = pointwise ? nil : PooledFloats(count: k * p)
        defer { colScratch?.release() }
        let col = colScratch?.pointer
        for n in 0..<g.batch {
            for grp in 0..<group {
                let src = px + (n * c + grp * cg) * hw
                let b: UnsafePointer<Float>
                if let col {
                    im2col(src, channels: cg, g, col)
                    b = UnsafePointer(col)
                } else {
                    b = src
                }
                if let packed {
                    // The bias, residual and activation go with the product's stores.
                    packed.multiply(b, ldb: p, n: p, into: po + n * m * p, ldc: p, epilogue: epilogue)
                } else {
                    sgemm(m: mg, n: p, k: k, a: pw + grp * mg * k, lda: k, b: b, ldb: p,
                          c: po + (n * m + grp * mg) * p, ldc: p)
                }
            }
            if packed == nil && !epilogue.isIdentity {
                parallelFor(m, grain: Swift.max(1, 16384 / p)) { channels in
                    for ch in channels { epilogue.apply(po + (n * m + ch) * p, count: p, channel: ch) }
                }
            }
        }
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        if node.needsGradient.count > 1 && node.needsGradient[1..<Swift.min(3, node.needsGradient.count)].contains(true) {
            throw CAMError(.unsupported, "gradients with respect to Conv weights or biases are not supported (only activations)")
        }
        let residualNeedsGradient = addsResidual && node.needsGradient.count > 3 && node.needsGradient[3]
        var grads: [ValueID?] = node.inputs.map { _ in nil }
        guard var g = node.outputGradient, node.needsGradient[0] || residualNeedsGradient else { return grads }
        // A fused activation's derivative is read off the output: y = relu(x) > 0 ⇔ x > 0,
        // and lo < clip(x) < hi ⇔ lo < x < hi.
        switch activation {
        case .relu?: g = b.apply(UnaryDerivative(.relu, order: 1), g, node.outputs[0])
        case .clip(let lo, let hi)?:
            g = b.apply(ClipDerivative(), g, node.outputs[0], b.constant(Tensor(scalar: lo)), b.constant(Tensor(scalar: hi)))
        case nil: break
        }
        if node.needsGradient[0] { grads[0] = b.apply(ConvBackwardData(unfused), g, try node.input(1), try node.input(0)) }
        // The residual's gradient is the pre-activation gradient (summed over broadcast axes).
        if residualNeedsGradient { grads[3] = b.unbroadcast(g, like: try node.input(3)) }
        return grads
    }
}

/// What follows a product in the same pass: `activation((v + bias[channel]) + residual)`,
/// the residual read at the same offset of its tensor as `v` has in the output.
struct OutputEpilogue {
    let bias: UnsafePointer<Float>?
    let lo: Float, hi: Float
    let clamps: Bool
    private let residual: UnsafePointer<Float>?
    private let output: UnsafePointer<Float>?
    private let owners: (Tensor?, Tensor?, Tensor?)

    init(bias: Tensor?, activation: Convolution.Activation?, residual: Tensor? = nil, output: Tensor? = nil) {
        precondition((residual == nil) == (output == nil) && residual?.shape == output?.shape, "a residual needs the output it is added to")
        owners = (bias, residual, output)
        self.bias = bias?.floats.baseAddress
        self.residual = residual?.floats.baseAddress
        self.output = output?.floats.baseAddress
        switch activation {
        case .relu?: (lo, hi, clamps) = (0, .infinity, true)
        case .clip(let a, let b)?: (lo, hi, clamps) = (a, b, true)
        case nil: (lo, hi, clamps) = (-.infinity, .infinity, false)
        }
    }

    var isIdentity: Bool { bias == nil && !clamps && residual == nil }
    var addsResidual: Bool { residual != nil }

    /// The same for `ck_gemm_packed` to apply as it stores a product whose first value is at
    /// `c` in the output (rows of C are channels; the residual is read at C's offset).
    func kernelEpilogue(storingAt c: UnsafePointer<Float>) -> ck_epilogue {
        var alignedResidual: UnsafePointer<Float>?
        if let residual, let output { alignedResidual = residual + (c - output) }
        return ck_epilogue(bias: bias, residual: alignedResidual, lo: lo, hi: hi)
    }

    /// Applies it to `count` values of one output channel, `v` pointing into the output.
    @inline(__always)
    func apply(_ v: UnsafeMutablePointer<Float>, count: Int, channel: Int) {
        if isIdentity { return }
        let b = bias?[channel] ?? 0
        if let residual, let output {
            ck_bias_residual_clamp(v, residual + (UnsafePointer(v) - output), count, b, lo, hi)
        } else if clamps {
            ck_bias_clamp(v, count, b, lo, hi)
        } else {
            ck_bias(v, count, b)
        }
    }
}

/// Adds `bias[c]` to every element of channel c of an (N, C, …) tensor and applies the
/// activation, in one pass.
func applyBiasAndActivation(_ t: Tensor, bias: Tensor?, activation: Convolution.Activation?) {
    let epilogue = OutputEpilogue(bias: bias, activation: activation)
    if epilogue.isIdentity { return }
    let n = t.shape[0], c = t.shape[1]
    let plane = t.count / Swift.max(n * c, 1)
    let po = t.mutableFloats.baseAddress!
    parallelFor(n * c, grain: Swift.max(1, 16384 / Swift.max(plane, 1))) { r in
        for i in r { epilogue.apply(po + i * plane, count: plane, channel: i % c) }
    }
    withExtendedLifetime((t, epilogue)) {}
}

/// Gradient of a convolution with respect to its input: inputs (gY, W, x), where `x` only
/// supplies the input shape. Its own VJP with respect to gY is the convolution.
public struct ConvBackwardData: Operator {
    public let conv: Convolution
    public init(_ conv: Convolution) { self.conv = conv }
    public var name: String { "ConvBackwardData" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let gy = inputs[0], let w = inputs[1], let x = inputs[2] else {
            throw CAMError(.invalidModel, "ConvBackwardData takes (gY, W, x)")
        }
        let g = try conv.geometry(x.shape, w.shape)
        guard gy.shape == g.outputShape(channels: w.shape[0], spatialRank: x.rank - 2) else {
            throw CAMError(.runtime, "ConvBackwardData: gradient \(gy.shape) does not match the convolution's output")
        }
        return [Self.transposedConvolution(gy, w, g, group: conv.group, inputShape: x.shape)]
    }

    /// `dX = convᵀ(gY, W)` for input shape `inputShape`.
    static func transposedConvolution(_ gy: Tensor, _ w: Tensor, _ g: WindowGeometry, group: Int, inputShape: [Int]) -> Tensor {
        let c = g.channels, m = w.shape[0]
        let cg = c / group, mg = m / group
        let hw = g.height * g.width, p = g.outHeight * g.outWidth
        let k = cg * g.kernelH * g.kernelW
        if let tile = Winograd.tile(for: g, group: group, inChannels: m, outChannels: c) {
            let dx = Tensor(uninitialized: inputShape)
            let u = WinogradFilterCache.filters(for: w, transposed: true, tile: tile)
            let (padTop, padLeft) = Winograd.transposedGeometry(g)
            Winograd.convolve(gy.floats.baseAddress!, batch: g.batch, inChannels: m, height: g.outHeight, width: g.outWidth,
                              padTop: padTop, padLeft: padLeft, tile: tile, filters: u, outChannels: c,
                              outHeight: g.height, outWidth: g.width, dx.mutableFloats.baseAddress!,
                              epilogue: OutputEpilogue(bias: nil, activation: nil))
            withExtendedLifetime((gy, u)) {}
            return dx
        }
        let dx = Tensor(zeros: inputShape)
        let pg = gy.floats.baseAddress!, pw = w.floats.baseAddress!, pd = dx.mutableFloats.baseAddress!
        if cg == 1 && mg == 1 {
            let inDouble = Runtime.gemmAccumulation == .double
            parallelEach(g.batch * c) { plane in
                let ch = plane % c
                depthwisePlaneTransposed(pg + plane * p, pw + ch * g.kernelH * g.kernelW, g, pd + plane * hw, inDouble: inDouble)
            }
            return dx
        }
        let pointwise = g.isPointwise
        let colScratch = pointwise ? nil : PooledFloats(count: k * p)
        defer { colScratch?.release() }
        let col = colScratch?.pointer
        for n in 0..<g.batch {
            for grp in 0..<group {
                let dst = pd + (n * c + grp * cg) * hw
                sgemm(transA: true, m: k, n: p, k: mg, a: pw + grp * mg * k, lda: k,
                      b: pg + (n * m + grp * mg) * p, ldb: p, c: col ?? dst, ldc: p)
                if let col { col2imAdd(col, channels: cg, g, dst) }
            }
        }
        return dx
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        if node.needsGradient.count > 1 && node.needsGradient[1] {
            throw CAMError(.unsupported, "gradients with respect to convolution weights are not supported")
        }
        guard let gg = node.outputGradient, node.needsGradient[0] else { return [nil, nil, nil] }
        return [b.apply(conv, gg, try node.input(1)), nil, nil]
    }
}
