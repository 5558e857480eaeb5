import Foundation

/// `Resize(x)`: nearest, (bi)linear or (bi)cubic resampling of the trailing one or two axes of a
/// tensor (the spatial axes of (N, C, W) or (N, C, H, W)), with ONNX's coordinate
/// transformations and nearest rounding modes, by per-axis scale factors or to fixed sizes;
/// and its backward.
///
/// The output size of an axis is `floor(in · scale)` (or the given size). An output coordinate
/// o maps to the input coordinate (`len` is `in · scale`, the unrounded output length)
/// - `halfPixel`: (o + ½) / scale − ½ (TensorFlow 2, JAX, OpenCV, PyTorch without align_corners),
/// - `pytorchHalfPixel`: as `halfPixel`, but 0 when the output axis has length 1,
/// - `halfPixelSymmetric`: as `halfPixel`, shifted so that the rounding of the output length is
///   split evenly between both ends (ONNX opset 19),
/// - `asymmetric`: o / scale (TensorFlow 1, and repetition when nearest rounds down),
/// - `tfHalfPixelForNN`: (o + ½) / scale (TensorFlow 1's half_pixel_centers for nearest),
/// - `alignCorners`: o · (in − 1) / (len − 1),
/// - `tfCropAndResize`: roiStart · (in − 1) + o · (roiEnd − roiStart) · (in − 1) / (len − 1); a
///   coordinate outside [0, in − 1] gives `extrapolationValue`.
///
/// Samples outside the input repeat its edge (ONNX's edge padding); with `excludeOutside` they
/// get weight 0 and the remaining weights are renormalised. Nearest takes one sample (rounded
/// by `nearestRounding`), linear two, cubic four (Keys' kernel with coefficient `cubicCoefficient`).
///
/// The operator has two forms. The *static* form (`scales` or `sizes` given) resizes the
/// trailing `scales.count` axes. The *ONNX* form (`Resize.onnx`) reads ONNX's inputs
/// `(x, roi?, scales?, sizes?)` when it runs, with one entry per axis (or per `axes` entry);
/// the axes before the last two must then be left unchanged.
public struct Resize: Operator {
    public enum Mode: String, Sendable { case nearest, linear, cubic }
    public enum CoordinateTransform: String, Sendable {
        case halfPixel = "half_pixel"
        case pytorchHalfPixel = "pytorch_half_pixel"
        case halfPixelSymmetric = "half_pixel_symmetric"
        case asymmetric
        case alignCorners = "align_corners"
        case tfHalfPixelForNN = "tf_half_pixel_for_nn"
        case tfCropAndResize = "tf_crop_and_resize"
    }
    public enum NearestRounding: String, Sendable {
        case roundPreferFloor = "round_prefer_floor"
        case roundPreferCeil = "round_prefer_ceil"
        case floor, ceil
    }

    public let mode: Mode
    public let coordinateTransform: CoordinateTransform
    public let nearestRounding: NearestRounding
    /// Scale per resized axis (the trailing `scales.count` axes), or nil with `sizes` (or in
    /// the ONNX form).
    public let scales: [Float]?
    /// Output size per resized axis, or nil with `scales` (or in the ONNX form).
    public let sizes: [Int]?
    /// Keys' cubic coefficient `a` (ONNX's `cubic_coeff_a`, −0.75; PIL and OpenCV use −0.5).
    public let cubicCoefficient: Float
    /// Weight 0 for samples outside the input, the others renormalised (ONNX's `exclude_outside`).
    public let excludeOutside: Bool
    /// The value of outputs whose `tfCropAndResize` coordinate falls outside the input.
    public let extrapolationValue: Float
    /// Static form with `tfCropAndResize`: the region of interest as fractions of each resized
    /// axis, all starts then all ends (default: the whole axis).
    public let roi: [Float]?
    /// ONNX form: the axes `roi`, `scales` and `sizes` refer to (ONNX opset 18's `axes`);
    /// nil means every axis.
    public let axes: [Int]?
    /// Whether the parameters are read from inputs 1–3 (the ONNX form).
    public let parametersFromInputs: Bool

    public init(mode: Mode, coordinateTransform: CoordinateTransform = .halfPixel, nearestRounding: NearestRounding = .roundPreferFloor,
                scales: [Float]? = nil, sizes: [Int]? = nil) {
        self.init(mode: mode, coordinateTransform: coordinateTransform, nearestRounding: nearestRounding, cubicCoefficient: -0.75,
                  excludeOutside: false, extrapolationValue: 0, roi: nil, scales: scales, sizes: sizes)
    }

    public init(mode: Mode, coordinateTransform: CoordinateTransform = .halfPixel, nearestRounding: NearestRounding = .roundPreferFloor,
                cubicCoefficient: Float = -0.75, excludeOutside: Bool = false, extrapolationValue: Float = 0, roi: [Float]? = nil,
                scales: [Float]? = nil, sizes: [Int]? = nil) {
        self.mode = mode
        self.coordinateTransform = coordinateTransform
        self.nearestRounding = nearestRounding
        self.cubicCoefficient = cubicCoefficient
        self.excludeOutside = excludeOutside
        self.extrapolationValue = extrapolationValue
        self.roi = roi
        self.scales = scales
        self.sizes = sizes
        self.axes = nil
        self.parametersFromInputs = false
    }

    private init(onnx mode: Mode, coordinateTransform: CoordinateTransform, nearestRounding: NearestRounding, cubicCoefficient: Float,
                 excludeOutside: Bool, extrapolationValue: Float, axes: [Int]?) {
        self.mode = mode
        self.coordinateTransform = coordinateTransform
        self.nearestRounding = nearestRounding
        self.cubicCoefficient = cubicCoefficient
        self.excludeOutside = excludeOutside
        self.extrapolationValue = extrapolationValue
        self.roi = nil
        self.scales = nil
        self.sizes = nil
        self.axes = axes
        self.parametersFromInputs = true
    }

    /// The ONNX form: inputs `(x, roi?, scales?, sizes?)` as ONNX's Resize (opset ≥ 11) takes
    /// them; exactly one of `scales` and `sizes` must be present (an empty `scales` is absent).
    public static func onnx(mode: Mode, coordinateTransform: CoordinateTransform = .halfPixel, nearestRounding: NearestRounding = .roundPreferFloor,
                            cubicCoefficient: Float = -0.75, excludeOutside: Bool = false, extrapolationValue: Float = 0, axes: [Int]? = nil) -> Resize {
        Resize(onnx: mode, coordinateTransform: coordinateTransform, nearestRounding: nearestRounding, cubicCoefficient: cubicCoefficient,
               excludeOutside: excludeOutside, extrapolationValue: extrapolationValue, axes: axes)
    }

    public var name: String { "Resize" }

    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func validate() throws {
        if let scales, !scales.allSatisfy({ $0 > 0 && $0.isFinite }) { throw CAMError(.invalidModel, "Resize: scales must be positive, got \(scales)") }
        if let sizes, !sizes.allSatisfy({ $0 > 0 }) { throw CAMError(.invalidModel, "Resize: sizes must be positive, got \(sizes)") }
        if let roi, !roi.allSatisfy({ $0.isFinite }) { throw CAMError(.invalidModel, "Resize: roi must be finite, got \(roi)") }
    }

    /// The sampling of one output axis: `width` taps per output index (their input indices and
    /// weights, flattened), and which outputs fall outside the input (crop-and-resize only).
    struct Taps {
        var width: Int
        var index: [Int]
        var weight: [Float]
        var outside: [Bool]
        var count: Int { outside.count }
        /// Taps that leave an axis of length `n` unchanged.
        static func identity(_ n: Int) -> Taps {
            Taps(width: 1, index: Array(0..<n), weight: [Float](repeating: 1, count: n), outside: [Bool](repeating: false, count: n))
        }
    }

    /// One axis's resampling parameters.
    struct AxisPlan {
        var input: Int
        var output: Int
        /// The scale the coordinate transformation divides by.
        var scale: Float
        /// ONNX's unrounded output length: `in · scale`, or the given size.
        var length: Float
        var roiStart: Float = 0
        var roiEnd: Float = 1

        var isIdentity: Bool { input == output && scale == 1 && roiStart == 0 && roiEnd == 1 }
    }

    /// Keys' cubic convolution weights of the four samples around a coordinate with fractional part `r`.
    func cubicWeights(_ r: Float) -> [Float] {
        let a = cubicCoefficient
        func near(_ t: Float) -> Float { ((a + 2) * t - (a + 3)) * t * t + 1 }           // |t| ≤ 1
        func far(_ t: Float) -> Float { ((a * t - 5 * a) * t + 8 * a) * t - 4 * a }      // 1 < |t| < 2
        return [far(r + 1), near(r), near(1 - r), far(2 - r)]
    }

    /// The taps of every output index along one axis.
    func taps(_ p: AxisPlan) -> Taps {
        let n = p.input, m = p.output, scale = p.scale
        let length = p.length
        let width: Int
        switch mode {
        case .nearest: width = 1
        case .linear: width = 2
        case .cubic: width = 4
        }
        var taps = Taps(width: width, index: [], weight: [], outside: [])
        taps.index.reserveCapacity(m * width)
        taps.weight.reserveCapacity(m * width)
        for o in 0..<m {
            let of = Float(o)
            var x: Float
            switch coordinateTransform {
            case .halfPixel: x = (of + 0.5) / scale - 0.5
            case .pytorchHalfPixel: x = m > 1 ? (of + 0.5) / scale - 0.5 : 0
            case .halfPixelSymmetric:
                let adjustment = Float(m) / length
                let offset = Float(n) / 2 * (1 - adjustment)
                x = offset + (of + 0.5) / scale - 0.5
            case .asymmetric: x = of / scale
            case .tfHalfPixelForNN: x = (of + 0.5) / scale
            case .alignCorners: x = length == 1 ? 0 : of * Float(n - 1) / (length - 1)
            case .tfCropAndResize:
                let span = (p.roiEnd - p.roiStart) * Float(n - 1)
                x = (length == 1 ? span / 2 : of * span / (length - 1)) + p.roiStart * Float(n - 1)
            }
            if coordinateTransform == .tfCropAndResize && (x < 0 || x > Float(n - 1)) {
                taps.outside.append(true)
                for _ in 0..<width { taps.index.append(0); taps.weight.append(0) }
                continue
            }
            taps.outside.append(false)
            let f = x.rounded(.down)
            let r = x - f
            let base = Int(f)
            var idx: [Int], w: [Float]
            switch mode {
            case .nearest:
                let up: Bool
                if r == 0 { up = false } else {
                    switch nearestRounding {
                    case .floor: up = false
                    case .ceil: up = true
                    case .roundPreferFloor: up = r > 0.5
                    case .roundPreferCeil: up = r >= 0.5
                    }
                }
                idx = [base + (up ? 1 : 0)]
                w = [1]
            case .linear:
                idx = [base, base + 1]
                w = [1 - r, r]
            case .cubic:
                idx = [base - 1, base, base + 1, base + 2]
                w = cubicWeights(r)
            }
            if excludeOutside && width > 1 {
                var sum: Float = 0
                for k in 0..<width {
                    if idx[k] < 0 || idx[k] >= n { w[k] = 0 }
                    sum += w[k]
                }
                if sum != 0 { for k in 0..<width { w[k] /= sum } }
            }
            for k in 0..<width {
                taps.index.append(Swift.min(Swift.max(idx[k], 0), n - 1))
                taps.weight.append(w[k])
            }
        }
        return taps
    }

    /// Every axis's parameters for an input shape (and, in the ONNX form, the operator's inputs).
    func axisPlans(_ shape: [Int], _ inputs: [Tensor?]) throws -> [AxisPlan] {
        let rank = shape.count
        var plans = shape.map { AxisPlan(input: $0, output: $0, scale: 1, length: Float($0)) }
        func outputSize(_ n: Int, _ s: Float) throws -> Int {
            guard s > 0, s.isFinite else { throw CAMError(.invalidModel, "Resize: scale \(s) must be positive") }
            return Int((Float(n) * s).rounded(.down))
        }
        if !parametersFromInputs {
            let k = scales?.count ?? sizes?.count ?? 0
            guard (scales == nil) != (sizes == nil), k == 1 || k == 2, rank >= k else {
                throw CAMError(.invalidModel, "Resize needs scales or sizes (not both) for 1 or 2 trailing axes of an input of rank ≥ that (input \(shape))")
            }
            if let roi, roi.count != 2 * k { throw CAMError(.invalidModel, "Resize: roi \(roi) needs \(2 * k) values (starts, then ends)") }
            for i in 0..<k {
                let a = rank - k + i, n = shape[a]
                if let s = scales?[i] {
                    plans[a].output = try outputSize(n, s)
                    plans[a].scale = s
                    plans[a].length = s * Float(n)
                } else {
                    plans[a].output = sizes![i]
                    plans[a].scale = Float(sizes![i]) / Float(n)
                    plans[a].length = Float(sizes![i])
                }
                if let roi { plans[a].roiStart = roi[i]; plans[a].roiEnd = roi[k + i] }
            }
        } else {
            let axisList = try (axes ?? Array(0..<rank)).map { a -> Int in
                let b = a < 0 ? a + rank : a
                guard b >= 0, b < rank else { throw CAMError(.invalidModel, "Resize: axis \(a) is out of range for an input of rank \(rank)") }
                return b
            }
            let k = axisList.count
            func vector(_ i: Int) -> Tensor? {
                guard i < inputs.count, let t = inputs[i], t.count > 0 else { return nil }
                return t
            }
            let scaleInput = vector(2), sizeInput = vector(3)
            guard (scaleInput == nil) != (sizeInput == nil) else {
                throw CAMError(.invalidModel, "Resize needs exactly one of scales and sizes (got \(scaleInput == nil ? "neither" : "both"))")
            }
            if let s = scaleInput {
                let v = s.toFloats()
                guard v.count == k else { throw CAMError(.invalidModel, "Resize: \(v.count) scales for \(k) axes of input \(shape)") }
                for (i, a) in axisList.enumerated() {
                    plans[a].output = try outputSize(shape[a], v[i])
                    plans[a].scale = v[i]
                    plans[a].length = v[i] * Float(shape[a])
                }
            } else if let s = sizeInput {
                let v = s.toInt64s()
                guard v.count == k else { throw CAMError(.invalidModel, "Resize: \(v.count) sizes for \(k) axes of input \(shape)") }
                for (i, a) in axisList.enumerated() {
                    guard v[i] > 0 else { throw CAMError(.invalidModel, "Resize: output size \(v[i]) must be positive") }
                    plans[a].output = Int(v[i])
                    plans[a].scale = Float(v[i]) / Float(shape[a])
                    plans[a].length = Float(v[i])
                }
            }
            if coordinateTransform == .tfCropAndResize, let r = vector(1) {
                let v = r.toFloats()
                guard v.count == 2 * k else { throw CAMError(.invalidModel, "Resize: roi has \(v.count) values; expected \(2 * k) (starts, then ends)") }
                for (i, a) in axisList.enumerated() { plans[a].roiStart = v[i]; plans[a].roiEnd = v[k + i] }
            }
        }
        for a in 0..<Swift.max(0, rank - 2) where !plans[a].isIdentity {
            throw CAMError(.unsupported, "Resize of axis \(a) of \(shape) (to \(plans[a].output)) is not supported; only the last two axes can be resized")
        }
        return plans
    }

    /// The output shape and the (rows, columns) taps for an input shape; 1-D resizes use one row.
    func plan(_ shape: [Int], _ inputs: [Tensor?] = []) throws -> (out: [Int], rows: Taps, columns: Taps) {
        guard !shape.isEmpty else { throw CAMError(.invalidModel, "Resize of a scalar") }
        let plans = try axisPlans(shape, inputs)
        guard shape.allSatisfy({ $0 > 0 }) else { throw CAMError(.runtime, "Resize of an empty tensor \(shape)") }
        let out = plans.map(\.output)
        guard out.allSatisfy({ $0 > 0 && $0 <= 1 << 24 }) else {
            throw CAMError(.runtime, "Resize: output shape \(out) for input \(shape) is empty or too large")
        }
        _ = try checkedShape(out, name)
        let columns = taps(plans[shape.count - 1])
        let rows = shape.count >= 2 ? (plans[shape.count - 2].isIdentity ? Taps.identity(shape[shape.count - 2]) : taps(plans[shape.count - 2]))
                                    : Taps.identity(1)
        return (out, rows, columns)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.dtype == .float32 else { throw CAMError(.invalidModel, "Resize needs a float32 input") }
        let (shape, rows, cols) = try plan(x.shape, inputs)
        let out = Tensor(uninitialized: shape)
        let h = x.rank >= 2 ? x.shape[x.rank - 2] : 1, w = x.shape[x.rank - 1]
        let oh = rows.count, ow = cols.count
        let planes = x.count / (h * w)
        let px = x.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let extrapolation = extrapolationValue
        rows.index.withUnsafeBufferPointer { ri in rows.weight.withUnsafeBufferPointer { rw in
        cols.index.withUnsafeBufferPointer { ci in cols.weight.withUnsafeBufferPointer { cw in
            let rWidth = rows.width, cWidth = cols.width
            parallelEach(planes) { plane in
                let src = px + plane * h * w, dst = po + plane * oh * ow
                for oy in 0..<oh {
                    let rowOut = rows.outside[oy]
                    for ox in 0..<ow {
                        if rowOut || cols.outside[ox] { dst[oy * ow + ox] = extrapolation; continue }
                        var acc: Float = 0
                        for i in 0..<rWidth {
                            let line = src + ri[oy * rWidth + i] * w
                            var s: Float = 0
                            for j in 0..<cWidth { s += line[ci[ox * cWidth + j]] * cw[ox * cWidth + j] }
                            let wr = rw[oy * rWidth + i]
                            acc = i == 0 ? (rWidth == 1 && wr == 1 ? s : s * wr) : acc + s * wr
                        }
                        dst[oy * ow + ox] = acc
                    }
                }
            }
        } } } }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        let grad = b.apply(ResizeBackward(self), [g] + node.inputs, outputs: 1)[0]
        return [grad] + node.inputs.dropFirst().map { _ in nil }
    }

    /// The same resampling without the extrapolation constant: the linear part of the map.
    var linearPart: Resize {
        guard extrapolationValue != 0 else { return self }
        if parametersFromInputs {
            return .onnx(mode: mode, coordinateTransform: coordinateTransform, nearestRounding: nearestRounding, cubicCoefficient: cubicCoefficient,
                         excludeOutside: excludeOutside, extrapolationValue: 0, axes: axes)
        }
        return Resize(mode: mode, coordinateTransform: coordinateTransform, nearestRounding: nearestRounding, cubicCoefficient: cubicCoefficient,
                      excludeOutside: excludeOutside, extrapolationValue: 0, roi: roi, scales: scales, sizes: sizes)
    }
}

/// Backward of `Resize`: inputs (g, x, and the resize's parameter inputs in the ONNX form);
/// each output gradient spread back onto the input elements it was interpolated from, with the
/// same weights. Linear in g; its VJP is the Resize (without its extrapolation constant).
public struct ResizeBackward: Operator {
    public let resize: Resize
    public init(_ resize: Resize) { self.resize = resize }
    public var name: String { "ResizeBackward" }
    public func isDifferentiable(input index: Int) -> Bool { index == 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "ResizeBackward takes (g, x, …)") }
        let (shape, rows, cols) = try resize.plan(x.shape, Array(inputs.dropFirst()))
        guard g.shape == shape else { throw CAMError(.runtime, "ResizeBackward: gradient \(g.shape) does not match the resized shape \(shape)") }
        let out = Tensor(zeros: x.shape)
        let h = x.rank >= 2 ? x.shape[x.rank - 2] : 1, w = x.shape[x.rank - 1]
        let oh = rows.count, ow = cols.count
        let planes = x.count / (h * w)
        let pg = g.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let rWidth = rows.width, cWidth = cols.width
        parallelEach(planes) { plane in
            let src = pg + plane * oh * ow, dst = po + plane * h * w
            for oy in 0..<oh where !rows.outside[oy] {
                for ox in 0..<ow where !cols.outside[ox] {
                    let v = src[oy * ow + ox]
                    for i in 0..<rWidth {
                        let line = dst + rows.index[oy * rWidth + i] * w
                        let vr = v * rows.weight[oy * rWidth + i]
                        if vr == 0 && i > 0 { continue }
                        for j in 0..<cWidth { line[cols.index[ox * cWidth + j]] += vr * cols.weight[ox * cWidth + j] }
                    }
                }
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return node.inputs.map { _ in nil } }
        let params = Array(node.inputs.dropFirst(2))
        return [b.apply(resize.linearPart, [gg] + params, outputs: 1)[0]] + node.inputs.dropFirst().map { _ in nil }
    }
}
