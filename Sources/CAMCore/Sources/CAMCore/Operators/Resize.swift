import Foundation

/// `Resize(x)`: nearest or (bi)linear resampling of the trailing one or two axes of a tensor
/// (the spatial axes of (N, C, W) or (N, C, H, W)), with ONNX's coordinate transformations and
/// nearest rounding modes, by per-axis scale factors or to fixed sizes; and its backward.
///
/// The output size of an axis is `floor(in · scale)` (or the given size). An output coordinate
/// maps to the input coordinate
/// - `halfPixel`: (o + ½) / scale − ½ (TensorFlow 2, JAX, OpenCV, PyTorch without align_corners),
/// - `pytorchHalfPixel`: as `halfPixel`, but 0 when the output axis has length 1,
/// - `asymmetric`: o / scale (TensorFlow 1, and repetition when nearest rounds down),
/// - `alignCorners`: o · (in − 1) / (out − 1).
/// Linear interpolation clamps the coordinate into the input; nearest rounds it, then clamps.
/// With sizes, `scale` is out / in.
public struct Resize: Operator {
    public enum Mode: String, Sendable { case nearest, linear }
    public enum CoordinateTransform: String, Sendable {
        case halfPixel = "half_pixel"
        case pytorchHalfPixel = "pytorch_half_pixel"
        case asymmetric
        case alignCorners = "align_corners"
    }
    public enum NearestRounding: String, Sendable {
        case roundPreferFloor = "round_prefer_floor"
        case roundPreferCeil = "round_prefer_ceil"
        case floor, ceil
    }

    public let mode: Mode
    public let coordinateTransform: CoordinateTransform
    public let nearestRounding: NearestRounding
    /// Scale per resized axis (the trailing `scales.count` axes), or nil with `sizes`.
    public let scales: [Float]?
    /// Output size per resized axis, or nil with `scales`.
    public let sizes: [Int]?

    public init(mode: Mode, coordinateTransform: CoordinateTransform = .halfPixel, nearestRounding: NearestRounding = .roundPreferFloor,
                scales: [Float]? = nil, sizes: [Int]? = nil) {
        self.mode = mode
        self.coordinateTransform = coordinateTransform
        self.nearestRounding = nearestRounding
        self.scales = scales
        self.sizes = sizes
    }

    public var name: String { "Resize" }

    /// One output coordinate's two source indices and their weights (nearest: one index, weight 1).
    struct Tap { var lo: Int, hi: Int, wlo: Float, whi: Float }

    /// The taps of every output index along one axis of length `n` resized to `m`.
    func taps(input n: Int, output m: Int, scale: Float) -> [Tap] {
        (0..<m).map { o in
            let x: Float
            switch coordinateTransform {
            case .halfPixel: x = (Float(o) + 0.5) / scale - 0.5
            case .pytorchHalfPixel: x = m > 1 ? (Float(o) + 0.5) / scale - 0.5 : 0
            case .asymmetric: x = Float(o) / scale
            case .alignCorners: x = m > 1 ? Float(o) * Float(n - 1) / Float(m - 1) : 0
            }
            switch mode {
            case .nearest:
                var i: Int
                switch nearestRounding {
                case .floor: i = Int(x.rounded(.down))
                case .ceil: i = Int(x.rounded(.up))
                case .roundPreferFloor: i = x - x.rounded(.down) == 0.5 ? Int(x.rounded(.down)) : Int(x.rounded())
                case .roundPreferCeil: i = x - x.rounded(.down) == 0.5 ? Int(x.rounded(.up)) : Int(x.rounded())
                }
                i = Swift.min(Swift.max(i, 0), n - 1)
                return Tap(lo: i, hi: i, wlo: 1, whi: 0)
            case .linear:
                let c = Swift.min(Swift.max(x, 0), Float(n - 1))
                let lo = Int(c.rounded(.down))
                let hi = Swift.min(lo + 1, n - 1)
                let f = c - Float(lo)
                return Tap(lo: lo, hi: hi, wlo: 1 - f, whi: f)
            }
        }
    }

    /// The output shape and the (rows, columns) taps for an input shape; 1-D resizes use one row.
    func plan(_ shape: [Int]) throws -> (out: [Int], rows: [Tap], columns: [Tap]) {
        let k = scales?.count ?? sizes?.count ?? 0
        guard (scales == nil) != (sizes == nil), k == 1 || k == 2, shape.count >= k else {
            throw CAMError(.invalidModel, "Resize needs scales or sizes (not both) for 1 or 2 trailing axes of an input of rank ≥ that (input \(shape))")
        }
        let axes = Array(shape.suffix(k))
        guard axes.allSatisfy({ $0 > 0 }) else { throw CAMError(.runtime, "Resize of an empty tensor \(shape)") }
        var outSizes: [Int] = [], factors: [Float] = []
        for (i, n) in axes.enumerated() {
            if let s = scales?[i] {
                guard s > 0, s.isFinite else { throw CAMError(.invalidModel, "Resize: scale \(s) must be positive") }
                outSizes.append(Int((Float(n) * s).rounded(.down)))
                factors.append(s)
            } else {
                let m = sizes![i]
                outSizes.append(m)
                factors.append(Float(m) / Float(n))
            }
        }
        guard outSizes.allSatisfy({ $0 > 0 && $0 <= 1 << 24 }) else {
            throw CAMError(.runtime, "Resize: output sizes \(outSizes) for input \(shape) are empty or too large")
        }
        let out = try checkedShape(Array(shape.dropLast(k)) + outSizes, name)
        let columns = taps(input: axes[k - 1], output: outSizes[k - 1], scale: factors[k - 1])
        let rows = k == 2 ? taps(input: axes[0], output: outSizes[0], scale: factors[0]) : [Tap(lo: 0, hi: 0, wlo: 1, whi: 0)]
        return (out, rows, columns)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.dtype == .float32 else { throw CAMError(.invalidModel, "Resize needs a float32 input") }
        let (shape, rows, cols) = try plan(x.shape)
        let out = Tensor(uninitialized: shape)
        let k = scales?.count ?? sizes!.count
        let h = k == 2 ? x.shape[x.rank - 2] : 1, w = x.shape[x.rank - 1]
        let oh = rows.count, ow = cols.count
        let planes = x.count / (h * w)
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        parallelEach(planes) { plane in
            let src = px + plane * h * w, dst = po + plane * oh * ow
            for (oy, r) in rows.enumerated() {
                let a = src + r.lo * w, b = src + r.hi * w
                for (ox, c) in cols.enumerated() {
                    let top = a[c.lo] * c.wlo + a[c.hi] * c.whi
                    let bottom = b[c.lo] * c.wlo + b[c.hi] * c.whi
                    dst[oy * ow + ox] = r.whi == 0 ? top : top * r.wlo + bottom * r.whi
                }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil] }
        return [b.apply(ResizeBackward(self), g, try node.input(0))]
    }
}

/// Backward of `Resize`: inputs (g, x); each output gradient spread back onto the input
/// elements it was interpolated from, with the same weights. Linear in g; its VJP is the Resize.
public struct ResizeBackward: Operator {
    public let resize: Resize
    public init(_ resize: Resize) { self.resize = resize }
    public var name: String { "ResizeBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "ResizeBackward takes (g, x)") }
        let (shape, rows, cols) = try resize.plan(x.shape)
        guard g.shape == shape else { throw CAMError(.runtime, "ResizeBackward: gradient \(g.shape) does not match the resized shape \(shape)") }
        let out = Tensor(zeros: x.shape)
        let k = resize.scales?.count ?? resize.sizes!.count
        let h = k == 2 ? x.shape[x.rank - 2] : 1, w = x.shape[x.rank - 1]
        let oh = rows.count, ow = cols.count
        let planes = x.count / (h * w)
        let pg = g.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        parallelEach(planes) { plane in
            let src = pg + plane * oh * ow, dst = po + plane * h * w
            for (oy, r) in rows.enumerated() {
                let a = dst + r.lo * w, b = dst + r.hi * w
                for (ox, c) in cols.enumerated() {
                    let v = src[oy * ow + ox]
                    let top = v * r.wlo, bottom = v * r.whi
                    a[c.lo] += top * c.wlo
                    a[c.hi] += top * c.whi
                    if r.whi != 0 {
                        b[c.lo] += bottom * c.wlo
                        b[c.hi] += bottom * c.whi
                    }
                }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        return [b.apply(resize, gg), nil]
    }
}
