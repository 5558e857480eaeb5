import CAMCore
import ONNXFormat

/// The ONNX operators SwiftCAM runs, each mapped to runtime operators with the attribute
/// defaults and opset differences of the ONNX specification.
enum ONNXOperatorTable {
    typealias Converter = (ONNXNodeConverter, inout Graph) throws -> Void

    static func convert(_ c: ONNXNodeConverter, into graph: inout Graph) throws {
        guard let converter = table[c.node.opType] else {
            throw CAMError(.unsupportedOperator, "operator \(c.node.opType) is not supported (supported: \(table.keys.sorted().joined(separator: ", ")))")
        }
        try converter(c, &graph)
    }

    /// Single-input elementwise functions.
    static func unary(_ f: @escaping (ONNXNodeConverter) throws -> UnaryFunction) -> Converter {
        { c, g in
            try c.expectInputs(1)
            try c.expectOutputs(1)
            c.emit(Unary(try f(c)), into: &g)
        }
    }

    /// Two-input broadcasting operators. Before opset 7 they broadcast only with an explicit
    /// `broadcast`/`axis` attribute (a different rule), which is refused unless it is NumPy's.
    static func binary(_ kind: Binary.Kind) -> Converter {
        { c, g in
            try c.expectInputs(2)
            if c.opset < 7, try c.bool("broadcast", false), try c.node.int("axis") != nil {
                throw CAMError(.unsupported, "legacy (opset < 7) broadcasting along 'axis' is not supported; re-export at opset ≥ 7")
            }
            c.emit(Binary(kind), into: &g)
        }
    }

    /// Variadic Sum / Mean / Max / Min as a chain of binary nodes.
    static func variadic(_ kind: Binary.Kind, mean: Bool = false) -> Converter {
        { c, g in
            guard !c.inputs.isEmpty else { throw CAMError(.invalidModel, "needs at least one input") }
            let ins = try c.inputs.indices.map { try c.input($0) }
            var acc = ins[0]
            if ins.count == 1 && !mean { c.emit(Identity(), [acc], into: &g); return }
            for (k, x) in ins.dropFirst().enumerated() {
                let last = k == ins.count - 2 && !mean
                if last { c.emit(Binary(kind), [acc, x], into: &g); return }
                acc = c.emitIntermediate(Binary(kind), [acc, x], into: &g)[0]
            }
            let n = c.constant(Tensor(scalar: Float(ins.count)), "count", into: &g)
            c.emit(Binary(.div), [acc, n], into: &g)
        }
    }

    static func compare(_ kind: Compare.Kind) -> Converter {
        { c, g in
            try c.expectInputs(2)
            c.emit(Compare(kind), into: &g)
        }
    }

    static func logical(_ kind: Logical.Kind) -> Converter {
        { c, g in
            try c.expectInputs(kind == .not ? 1 : 2)
            c.emit(Logical(kind), into: &g)
        }
    }

    /// Moves list attributes (older opsets) to constant inputs at `positions` (newer opsets).
    static func attributesToInputs(_ c: ONNXNodeConverter, _ names: [String], into g: inout Graph) throws {
        for name in names {
            if let v = try c.ints(name) {
                c.inputs.append(c.int64Constant(v, name, into: &g))
            } else {
                c.inputs.append(nil)
            }
        }
        while c.inputs.last == .some(nil) { c.inputs.removeLast() }
    }

    /// Reductions: axes as an attribute before `inputFrom`, as an input after.
    static func reduce(_ kind: Reduce.Kind, axesInputFrom: Int64) -> Converter {
        { c, g in
            let keep = try c.bool("keepdims", true)
            let noop = try c.bool("noop_with_empty_axes", false)
            if c.opset < axesInputFrom {
                try c.expectInputs(1)
                try attributesToInputs(c, ["axes"], into: &g)
            } else {
                try c.expectInputs(1, 2)
            }
            c.emit(Reduce(kind, keepDims: keep, noopWithEmptyAxes: noop), into: &g)
        }
    }

    /// Softmax / LogSoftmax; before opset 13 they act on the input flattened to 2-D at `axis`.
    static func softmax(log: Bool) -> Converter {
        { c, g in
            try c.expectInputs(1)
            if c.opset >= 13 {
                c.emit(Softmax(axis: try c.int("axis", -1), log: log), into: &g)
                return
            }
            let x = try c.input(0)
            let flat = c.emitIntermediate(Flatten(axis: try c.int("axis", 1)), [x], into: &g)[0]
            let y = c.emitIntermediate(Softmax(axis: 1, log: log), [flat], into: &g)[0]
            c.emit(ReshapeLike(), [y, x], into: &g)
        }
    }

    static func window(_ c: ONNXNodeConverter) throws -> PoolWindow {
        PoolWindow(kernel: try c.requiredInts("kernel_shape"), strides: try c.ints("strides") ?? [],
                   dilations: try c.ints("dilations") ?? [], padding: try c.padding(), ceilMode: try c.bool("ceil_mode", false))
    }

    /// Resize (opset 10: `(X, scales)`, asymmetric; opset ≥ 11: `(X, roi, scales, sizes)` with
    /// the coordinate transformation, nearest rounding and cubic attributes; opset 18: `axes`).
    static func resize(_ c: ONNXNodeConverter, _ g: inout Graph) throws {
        let mode = try resizeMode(c)
        if c.opset < 11 {
            try c.expectInputs(2)
            let op = Resize.onnx(mode: mode, coordinateTransform: .asymmetric, nearestRounding: .floor)
            c.emit(op, [try c.input(0), nil, try c.input(1), nil], into: &g)
            return
        }
        try c.expectInputs(1, 4)
        if try c.bool("antialias", false) { throw CAMError(.unsupported, "antialias = 1 is not supported") }
        let policy = try c.string("keep_aspect_ratio_policy", "stretch")
        guard policy == "stretch" else { throw CAMError(.unsupported, "keep_aspect_ratio_policy '\(policy)' is not supported (only 'stretch')") }
        let ctm = try c.string("coordinate_transformation_mode", "half_pixel")
        guard let transform = Resize.CoordinateTransform(rawValue: ctm) else {
            throw CAMError(.invalidModel, "coordinate_transformation_mode '\(ctm)' is not one of half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize")
        }
        let nm = try c.string("nearest_mode", "round_prefer_floor")
        guard let rounding = Resize.NearestRounding(rawValue: nm) else {
            throw CAMError(.invalidModel, "nearest_mode '\(nm)' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil")
        }
        let op = Resize.onnx(mode: mode, coordinateTransform: transform, nearestRounding: rounding,
                             cubicCoefficient: try c.float("cubic_coeff_a", -0.75), excludeOutside: try c.bool("exclude_outside", false),
                             extrapolationValue: try c.float("extrapolation_value", 0), axes: try c.ints("axes"))
        var ins = c.inputs
        while ins.count < 4 { ins.append(nil) }
        c.emit(op, ins, into: &g)
    }

    static func resizeMode(_ c: ONNXNodeConverter) throws -> Resize.Mode {
        switch try c.string("mode", "nearest") {
        case "nearest": return .nearest
        case "linear", "bilinear": return .linear
        case "cubic", "bicubic": return .cubic
        case let m: throw CAMError(.invalidModel, "mode '\(m)' is not nearest, linear or cubic")
        }
    }

    /// Upsample (opsets 7–9, deprecated in 10): Resize with asymmetric coordinates, nearest
    /// rounding down; `scales` an attribute before opset 9.
    static func upsample(_ c: ONNXNodeConverter, _ g: inout Graph) throws {
        let mode = try resizeMode(c)
        if c.opset < 9 {
            try c.expectInputs(1)
            guard let scales = try c.node.floats("scales") else { throw CAMError(.invalidModel, "attribute 'scales' is required") }
            c.inputs.append(c.constant(Tensor(shape: [scales.count], floats: scales), "scales", into: &g))
        }
        try c.expectInputs(2)
        let op = Resize.onnx(mode: mode, coordinateTransform: .asymmetric, nearestRounding: .floor)
        c.emit(op, [try c.input(0), nil, try c.input(1), nil], into: &g)
    }

    /// ConvTranspose: explicit `pads`, or `auto_pad` SAME_UPPER / SAME_LOWER (output = input ·
    /// stride), or `output_shape` (the output cropped — or extended at the end — to that size
    /// when the graph runs). Where the total padding is odd, SAME_UPPER puts the extra element at
    /// the end and the others at the start, as ONNX's specification and reference do
    /// (onnxruntime differs for output_shape without SAME). Opsets 1 and 11 differ only in
    /// documentation.
    static func convTranspose(_ c: ONNXNodeConverter, _ g: inout Graph) throws {
        try c.expectInputs(2, 3)
        let weightShape = c.inputs[1].flatMap { g.constants[$0]?.shape }
        let kernel = try c.ints("kernel_shape") ?? weightShape.map { Array($0.dropFirst(2)) }
        let strides = try c.ints("strides") ?? [], dilations = try c.ints("dilations") ?? []
        var outputPadding = try c.ints("output_padding") ?? []
        let group = try c.int("group", 1)
        let autoPad = try c.string("auto_pad", "NOTSET")
        guard ["NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"].contains(autoPad) else {
            throw CAMError(.invalidModel, "auto_pad '\(autoPad)' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
        let same = autoPad.hasPrefix("SAME")
        // The output cropped (or extended at the end) when the graph runs: to `output_shape`, or
        // for SAME padding with weights known only then, to input · stride.
        func fitted(_ fit: FitSpatialSize) {
            let full = c.emitIntermediate(ConvTranspose(strides: strides, dilations: dilations, pads: [], outputPadding: outputPadding, group: group),
                                          Array(c.inputs.prefix(2)), into: &g)[0]
            guard c.inputs.count > 2, let bias = c.inputs[2] else {
                c.emit(fit, [full, c.inputs[0]], into: &g)
                return
            }
            let cropped = c.emitIntermediate(fit, [full, c.inputs[0]], into: &g)[0]
            let rank: Int
            switch fit.size {
            case .fixed(let s): rank = s.count
            default: rank = kernel?.count ?? Swift.max(strides.count, 2)
            }
            let shape = c.int64Constant([-1] + [Int](repeating: 1, count: rank), "bias_shape", into: &g)
            let column = c.emitIntermediate(Reshape(), [bias, shape], into: &g)[0]
            c.emit(Binary(.add), [cropped, column], into: &g)
        }
        if let outputShape = try c.ints("output_shape") {
            let n = kernel?.count ?? outputShape.count
            fitted(FitSpatialSize(size: .fixed(Array(outputShape.suffix(n))), padMoreAtStart: autoPad != "SAME_UPPER"))
            return
        }
        guard same else {
            let pads = autoPad == "VALID" ? [] : (try c.ints("pads") ?? [])
            c.emit(ConvTranspose(strides: strides, dilations: dilations, pads: pads, outputPadding: outputPadding, group: group), into: &g)
            return
        }
        guard let kernel else {
            fitted(FitSpatialSize(size: .inputTimesStrides(strides), padMoreAtStart: autoPad != "SAME_UPPER"))
            return
        }
        // Output = input · stride, whatever the input size: the total padding is fixed.
        let n = kernel.count
        let s = strides.isEmpty ? [Int](repeating: 1, count: n) : strides, d = dilations.isEmpty ? [Int](repeating: 1, count: n) : dilations
        if outputPadding.isEmpty { outputPadding = [Int](repeating: 0, count: n) }
        guard s.count == n, d.count == n, outputPadding.count == n else {
            throw CAMError(.invalidModel, "strides \(strides), dilations \(dilations) and output_padding \(outputPadding) must have \(n) values")
        }
        var begins: [Int] = [], ends: [Int] = []
        for i in 0..<n {
            let total = outputPadding[i] + (kernel[i] - 1) * d[i] + 1 - s[i]
            if total < 0 {
                outputPadding[i] -= total
                begins.append(0); ends.append(0)
            } else if autoPad == "SAME_UPPER" {
                begins.append(total / 2); ends.append(total - total / 2)
            } else {
                begins.append(total - total / 2); ends.append(total / 2)
            }
        }
        c.emit(ConvTranspose(strides: s, dilations: d, pads: begins + ends, outputPadding: outputPadding, group: group), into: &g)
    }

    nonisolated(unsafe) static let table: [String: Converter] = [
        // Elementwise functions
        "Relu": unary { _ in .relu },
        "LeakyRelu": unary { .leakyRelu(alpha: try $0.float("alpha", 0.01)) },
        "Sigmoid": unary { _ in .sigmoid },
        "HardSigmoid": unary { .hardSigmoid(alpha: try $0.float("alpha", 0.2), beta: try $0.float("beta", 0.5)) },
        "HardSwish": unary { _ in .hardSwish },
        "Tanh": unary { _ in .tanh },
        "Exp": unary { _ in .exp },
        "Log": unary { _ in .log },
        "Neg": unary { _ in .neg },
        "Abs": unary { _ in .abs },
        "Sqrt": unary { _ in .sqrt },
        "Reciprocal": unary { _ in .reciprocal },
        "Erf": unary { _ in .erf },
        "Softplus": unary { _ in .softplus },
        "Softsign": unary { _ in .softsign },
        "Elu": unary { .elu(alpha: try $0.float("alpha", 1)) },
        "Selu": unary { .selu(alpha: try $0.float("alpha", 1.67326319217681884765625), gamma: try $0.float("gamma", 1.05070102214813232421875)) },
        "Floor": unary { _ in .floor },
        "Ceil": unary { _ in .ceil },
        "Round": unary { _ in .round },
        "Sign": unary { _ in .sign },
        "Gelu": unary { c in
            switch try c.string("approximate", "none") {
            case "none": return .gelu
            case "tanh": return .geluTanh
            case let a: throw CAMError(.invalidModel, "approximate '\(a)' is not 'none' or 'tanh'")
            }
        },
        "Clip": { c, g in
            if c.opset < 11 {
                try c.expectInputs(1)
                let lo = c.constant(Tensor(scalar: try c.float("min", -Float.greatestFiniteMagnitude)), "min", into: &g)
                let hi = c.constant(Tensor(scalar: try c.float("max", Float.greatestFiniteMagnitude)), "max", into: &g)
                c.inputs += [lo, hi]
            } else {
                try c.expectInputs(1, 3)
            }
            c.emit(Clip(), into: &g)
        },

        // Arithmetic and logic
        "Add": binary(.add), "Sub": binary(.sub), "Mul": binary(.mul), "Div": binary(.div), "Pow": binary(.pow),
        "Sum": variadic(.add), "Mean": variadic(.add, mean: true), "Max": variadic(.max), "Min": variadic(.min),
        "Equal": compare(.equal), "Greater": compare(.greater), "Less": compare(.less),
        "GreaterOrEqual": compare(.greaterOrEqual), "LessOrEqual": compare(.lessOrEqual),
        "And": logical(.and), "Or": logical(.or), "Xor": logical(.xor), "Not": logical(.not),
        "Where": { c, g in try c.expectInputs(3); c.emit(Where(), into: &g) },

        // Convolution, normalisation, pooling
        "Conv": { c, g in
            try c.expectInputs(2, 3)
            c.emit(Convolution(strides: try c.ints("strides") ?? [], dilations: try c.ints("dilations") ?? [],
                               padding: try c.padding(), group: try c.int("group", 1), kernelShape: try c.ints("kernel_shape")), into: &g)
        },
        "BatchNormalization": { c, g in
            try c.expectInputs(5)
            try c.expectOutputs(1)
            if try c.bool("training_mode", false) { throw CAMError(.unsupported, "training_mode = 1 is not supported (inference only)") }
            c.emit(BatchNormalization(epsilon: try c.float("epsilon", 1e-5)), into: &g)
        },
        "MaxPool": { c, g in
            try c.expectInputs(1)
            try c.expectOutputs(2)
            let order: MaxPool.IndexOrder = try c.int("storage_order", 0) != 0 ? .columnMajor : .rowMajor
            c.emit(MaxPool(try window(c), indices: c.outputs.count > 1 ? order : nil), into: &g)
        },
        "AveragePool": { c, g in
            try c.expectInputs(1)
            c.emit(AveragePool(try window(c), countIncludePad: try c.bool("count_include_pad", false)), into: &g)
        },
        "LayerNormalization": { c, g in
            // Opset 17. Y, Mean and InvStdDev are always computed (the VJP reads the last two);
            // outputs the model omits get fresh values. stash_type only sets the precision of
            // the statistics, which SwiftCAM computes in float32 (stash_type 1, the default).
            try c.expectInputs(2, 3)
            try c.expectOutputs(3)
            var outs = c.outputs
            while outs.count < 3 { outs.append(g.addFreshValue("\(c.node.name)_unused_output")) }
            g.nodes.append(Node(name: c.node.name, op: LayerNormalization(axis: try c.int("axis", -1), epsilon: try c.float("epsilon", 1e-5)),
                                inputs: c.inputs, outputs: outs))
        },
        "ConvTranspose": convTranspose,
        "GlobalAveragePool": { c, g in try c.expectInputs(1); c.emit(GlobalPool(.average), into: &g) },
        "GlobalMaxPool": { c, g in try c.expectInputs(1); c.emit(GlobalPool(.max), into: &g) },

        // Matrix products
        "Gemm": { c, g in
            try c.expectInputs(2, 3)
            c.emit(Gemm(alpha: try c.float("alpha", 1), beta: try c.float("beta", 1),
                        transA: try c.bool("transA", false), transB: try c.bool("transB", false)), into: &g)
        },
        "MatMul": { c, g in try c.expectInputs(2); c.emit(MatMul(), into: &g) },
        "Softmax": softmax(log: false),
        "LogSoftmax": softmax(log: true),

        // Reductions
        "ReduceSum": reduce(.sum, axesInputFrom: 13),
        "ReduceMean": reduce(.mean, axesInputFrom: 18),
        "ReduceMax": reduce(.max, axesInputFrom: 18),
        "ReduceMin": reduce(.min, axesInputFrom: 18),

        // Shapes and layout
        "Identity": { c, g in try c.expectInputs(1); c.emit(Identity(), into: &g) },
        "Dropout": { c, g in
            try c.expectInputs(1, 3)
            if c.opset < 7, try c.bool("is_test", true) == false {
                throw CAMError(.unsupported, "Dropout with is_test = 0 (training) is not supported (inference only)")
            }
            // Opset ≥ 12 passes training_mode as input 2; it is checked when the graph runs.
            let trainingMode: ValueID? = c.inputs.count > 2 ? c.inputs[2] : nil
            c.emit(Dropout(emitsMask: c.outputs.count > 1), [try c.input(0), trainingMode], into: &g)
        },
        "Flatten": { c, g in try c.expectInputs(1); c.emit(Flatten(axis: try c.int("axis", 1)), into: &g) },
        "Reshape": { c, g in
            if c.opset < 5 {
                try c.expectInputs(1)
                c.inputs.append(c.int64Constant(try c.requiredInts("shape"), "shape", into: &g))
            }
            try c.expectInputs(2)
            c.emit(Reshape(allowZero: try c.bool("allowzero", false)), into: &g)
        },
        "Transpose": { c, g in try c.expectInputs(1); c.emit(Transpose(perm: try c.ints("perm") ?? []), into: &g) },
        "Squeeze": { c, g in
            if c.opset < 13 { try c.expectInputs(1); try attributesToInputs(c, ["axes"], into: &g) } else { try c.expectInputs(1, 2) }
            c.emit(Squeeze(), into: &g)
        },
        "Unsqueeze": { c, g in
            if c.opset < 13 { try c.expectInputs(1); try attributesToInputs(c, ["axes"], into: &g) }
            try c.expectInputs(2)
            c.emit(Unsqueeze(), into: &g)
        },
        "Concat": { c, g in
            guard let axis = try c.node.int("axis") else { throw CAMError(.invalidModel, "attribute 'axis' is required") }
            c.emit(Concat(axis: Int(axis)), into: &g)
        },
        "Split": { c, g in
            if c.opset < 13 { try c.expectInputs(1); try attributesToInputs(c, ["split"], into: &g) } else { try c.expectInputs(1, 2) }
            c.emit(Split(axis: try c.int("axis", 0), numOutputs: try c.int("num_outputs", c.outputs.count)), into: &g)
        },
        "Slice": { c, g in
            if c.opset < 10 {
                try c.expectInputs(1)
                let starts = try c.requiredInts("starts"), ends = try c.requiredInts("ends")
                c.inputs += [c.int64Constant(starts, "starts", into: &g), c.int64Constant(ends, "ends", into: &g)]
                if let axes = try c.ints("axes") { c.inputs.append(c.int64Constant(axes, "axes", into: &g)) }
            }
            try c.expectInputs(3, 5)
            c.emit(Slice(), into: &g)
        },
        "Gather": { c, g in try c.expectInputs(2); c.emit(Gather(axis: try c.int("axis", 0)), into: &g) },
        "Shape": { c, g in
            try c.expectInputs(1)
            c.emit(ShapeOf(start: try c.int("start", 0), end: try c.node.int("end").map { Int(clamping: $0) }), into: &g)
        },
        "Size": { c, g in try c.expectInputs(1); c.emit(SizeOf(), into: &g) },
        "Cast": { c, g in
            try c.expectInputs(1)
            let to = try c.int("to", 0)
            guard let e = ONNXElementType(rawValue: Int32(clamping: to)), let dtype = ONNXGraphImporter.runtimeType(e) else {
                throw CAMError(.unsupported, "Cast to element type \(to) is not supported (float, integer and bool types are)")
            }
            let precision: Cast.ReducedPrecision? = e == .float16 ? .float16 : (e == .bfloat16 ? .bfloat16 : nil)
            c.emit(Cast(to: dtype, precision: precision), into: &g)
        },
        "ConstantOfShape": { c, g in
            try c.expectInputs(1)
            c.emit(ConstantOfShape(value: try c.node.tensor("value") ?? Tensor(scalar: 0)), into: &g)
        },
        "Range": { c, g in try c.expectInputs(3); c.emit(Arange(), into: &g) },
        "Expand": { c, g in try c.expectInputs(2); c.emit(Expand(), into: &g) },
        "Tile": { c, g in
            if c.opset < 6 {
                throw CAMError(.unsupported, "Tile before opset 6 (tiles and axis inputs) is not supported; re-export at opset ≥ 6")
            }
            try c.expectInputs(2)
            c.emit(Tile(), into: &g)
        },
        "Pad": { c, g in
            let mode = try c.string("mode", "constant")
            guard let m = Pad.Mode(rawValue: mode) else { throw CAMError(.unsupported, "Pad mode '\(mode)' is not supported") }
            if c.opset < 11 {
                try c.expectInputs(1)
                c.inputs.append(c.int64Constant(try c.requiredInts("pads"), "pads", into: &g))
                c.inputs.append(c.constant(Tensor(scalar: try c.float("value", 0)), "value", into: &g))
            }
            try c.expectInputs(2, 4)
            c.emit(Pad(mode: m), into: &g)
        },
        "Resize": resize,
        "Upsample": upsample,

        // Selection (detector heads)
        "ArgMax": { c, g in
            try c.expectInputs(1)
            c.emit(ArgExtremum(max: true, axis: try c.int("axis", 0), keepDims: try c.bool("keepdims", true),
                               selectLastIndex: try c.bool("select_last_index", false)), into: &g)
        },
        "ArgMin": { c, g in
            try c.expectInputs(1)
            c.emit(ArgExtremum(max: false, axis: try c.int("axis", 0), keepDims: try c.bool("keepdims", true),
                               selectLastIndex: try c.bool("select_last_index", false)), into: &g)
        },
        "TopK": { c, g in
            if c.opset < 10 {
                try c.expectInputs(1)
                c.inputs.append(c.int64Constant([try c.int("k", 0)], "k", into: &g))
            }
            try c.expectInputs(2)
            // `sorted = 0` allows any order; the sorted order is one of them.
            c.emit(TopK(axis: try c.int("axis", -1), largest: try c.bool("largest", true)), into: &g)
        },
        "GatherElements": { c, g in try c.expectInputs(2); c.emit(GatherElements(axis: try c.int("axis", 0)), into: &g) },
        "NonMaxSuppression": { c, g in
            try c.expectInputs(2, 5)
            c.emit(NonMaxSuppression(centerPointBox: try c.int("center_point_box", 0) != 0), into: &g)
        },

        "Constant": { c, g in
            try c.expectInputs(0)
            g.constants[c.outputs[0]] = try c.node.constantValue()
        },
    ]
}
