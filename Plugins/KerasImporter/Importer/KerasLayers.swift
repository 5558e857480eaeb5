import CAMCore
import KerasFormat

/// Each supported Keras layer class, converted to runtime operators. Inputs arrive and outputs
/// leave in the builder's layout (channels first for rank ≥ 3; see `KTensor`); kernels are
/// converted at import (HWIO → OIHW, depthwise and separable layouts).
enum KerasLayers {
    typealias Converter = @Sendable (LayerCall) throws -> KTensor

    static let converters: [String: Converter] = {
        var t: [String: Converter] = [:]
        t["Conv1D"] = { try conv($0, spatial: 1) }
        t["Conv2D"] = { try conv($0, spatial: 2) }
        t["Convolution1D"] = t["Conv1D"]
        t["Convolution2D"] = t["Conv2D"]
        t["DepthwiseConv1D"] = { try depthwise($0, spatial: 1) }
        t["DepthwiseConv2D"] = { try depthwise($0, spatial: 2) }
        t["SeparableConv1D"] = { try separable($0, spatial: 1) }
        t["SeparableConv2D"] = { try separable($0, spatial: 2) }
        t["SeparableConvolution1D"] = t["SeparableConv1D"]
        t["SeparableConvolution2D"] = t["SeparableConv2D"]
        t["Conv1DTranspose"] = { try convTranspose($0, spatial: 1) }
        t["Conv2DTranspose"] = { try convTranspose($0, spatial: 2) }
        t["Convolution2DTranspose"] = t["Conv2DTranspose"]
        t["Deconvolution2D"] = t["Conv2DTranspose"]
        t["Dense"] = dense
        t["BatchNormalization"] = batchNormalization
        t["Activation"] = { c in try c.finishActivation(try c.activationName(), try c.input().id, shape: try c.input().shape) }
        t["ReLU"] = relu
        t["LeakyReLU"] = { c in
            let x = try c.input()
            let slope = try c.optionalDouble("negative_slope") ?? c.optionalDouble("alpha") ?? 0.3
            return try c.finish(Unary(.leakyRelu(alpha: Float(slope))), [x.id], shape: x.shape)
        }
        t["PReLU"] = prelu
        t["ELU"] = { c in
            let x = try c.input()
            return try c.finish(Unary(.elu(alpha: Float(try c.double("alpha", 1)))), [x.id], shape: x.shape)
        }
        t["ThresholdedReLU"] = { c in
            let x = try c.input()
            let above = c.emit(Compare(.greater), [x.id, c.scalar(Float(try c.double("theta", 1)), "theta")], "above")
            return try c.finish(Where(), [above, x.id, c.scalar(0, "zero")], shape: x.shape)
        }
        t["Softmax"] = softmax
        t["MaxPooling1D"] = { try pool($0, spatial: 1, max: true) }
        t["MaxPooling2D"] = { try pool($0, spatial: 2, max: true) }
        t["MaxPool1D"] = t["MaxPooling1D"]
        t["MaxPool2D"] = t["MaxPooling2D"]
        t["AveragePooling1D"] = { try pool($0, spatial: 1, max: false) }
        t["AveragePooling2D"] = { try pool($0, spatial: 2, max: false) }
        t["AvgPool1D"] = t["AveragePooling1D"]
        t["AvgPool2D"] = t["AveragePooling2D"]
        t["GlobalAveragePooling1D"] = { try globalPool($0, spatial: 1, .average) }
        t["GlobalAveragePooling2D"] = { try globalPool($0, spatial: 2, .average) }
        t["GlobalMaxPooling1D"] = { try globalPool($0, spatial: 1, .max) }
        t["GlobalMaxPooling2D"] = { try globalPool($0, spatial: 2, .max) }
        t["GlobalAvgPool1D"] = t["GlobalAveragePooling1D"]
        t["GlobalAvgPool2D"] = t["GlobalAveragePooling2D"]
        t["GlobalMaxPool1D"] = t["GlobalMaxPooling1D"]
        t["GlobalMaxPool2D"] = t["GlobalMaxPooling2D"]
        t["Add"] = { try merge($0, .add) }
        t["Subtract"] = { try merge($0, .sub) }
        t["Multiply"] = { try merge($0, .mul) }
        t["Maximum"] = { try merge($0, .max) }
        t["Minimum"] = { try merge($0, .min) }
        t["Average"] = average
        t["Concatenate"] = concatenate
        t["ZeroPadding1D"] = { try zeroPadding($0, spatial: 1) }
        t["ZeroPadding2D"] = { try zeroPadding($0, spatial: 2) }
        t["Cropping1D"] = { try cropping($0, spatial: 1) }
        t["Cropping2D"] = { try cropping($0, spatial: 2) }
        t["UpSampling1D"] = { try upSampling($0, spatial: 1) }
        t["UpSampling2D"] = { try upSampling($0, spatial: 2) }
        t["Flatten"] = flatten
        t["Reshape"] = reshape
        t["Permute"] = permute
        for name in ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                     "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity"] {
            t[name] = { c in let x = try c.input(); return try c.finish(Identity(), [x.id], shape: x.shape) }
        }
        t["Rescaling"] = rescaling
        t["Normalization"] = normalization
        return t
    }()

    static var supportedClassNames: [String] { (Array(converters.keys) + ["InputLayer", "Functional", "Model", "Sequential"]).sorted() }

    static func convert(_ c: LayerCall) throws -> KTensor {
        guard let converter = converters[c.layer.className] else { throw unsupportedClass(c.layer) }
        return try converter(c)
    }

    static func unsupportedClass(_ layer: KerasLayer) -> CAMError {
        let hint: String
        switch layer.className {
        case "Lambda", "TFOpLambda", "SlicingOpLambda":
            hint = "; it holds Python code, which cannot be run without Keras: replace it with built-in layers"
        default:
            hint = ""
        }
        return CAMError(.unsupportedOperator, "layer class '\(layer.className)' is not supported\(hint) (supported: \(supportedClassNames.joined(separator: ", ")))")
    }

    /// The variables a layer stores (aliases separated by `|`), trainable first, as Keras orders
    /// them; used to distribute a nested model's weights over its layers.
    static func expectedWeights(_ layer: KerasLayer) throws -> (trainable: [String], nonTrainable: [String]) {
        let c = layer.config
        let bias = (c["use_bias"]?.bool ?? true) ? ["bias"] : []
        switch layer.className {
        case "Conv1D", "Conv2D", "Convolution1D", "Convolution2D", "Dense", "Conv1DTranspose", "Conv2DTranspose",
             "Convolution2DTranspose", "Deconvolution2D":
            return (["kernel"] + bias, [])
        case "DepthwiseConv1D", "DepthwiseConv2D":
            return (["depthwise_kernel|kernel"] + bias, [])
        case "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D":
            return (["depthwise_kernel", "pointwise_kernel"] + bias, [])
        case "BatchNormalization":
            let scale = (c["scale"]?.bool ?? true) ? ["gamma"] : []
            let center = (c["center"]?.bool ?? true) ? ["beta"] : []
            return (scale + center, ["moving_mean", "moving_variance"])
        case "PReLU":
            return (["alpha"], [])
        case "Normalization":
            let inConfig = !(c["mean"]?.isNull ?? true) && !(c["variance"]?.isNull ?? true)
            return ([], inConfig ? [] : ["mean", "variance", "count"])
        default:
            guard converters[layer.className] != nil else {
                throw CAMError(.unsupportedOperator, "layer \(layer.label): " + unsupportedClass(layer).message)
            }
            return ([], [])
        }
    }

    // MARK: Helpers

    static func text(_ shape: [Int?]) -> String {
        "(" + shape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")"
    }

    static func requireRank(_ x: KTensor, _ rank: Int) throws {
        guard x.rank == rank else {
            throw CAMError(.invalidModel, "expects a rank-\(rank) input (batch, …, channels), got shape \(text(x.shape))")
        }
    }

    static func transposed(_ t: Tensor, _ perm: [Int]) throws -> Tensor {
        try Transpose(perm: perm).forward([t])[0]
    }

    /// A per-channel constant shaped to broadcast against a stored rank-`rank` value.
    static func channelShape(_ count: Int, rank: Int) -> [Int] {
        rank < 3 ? [count] : [1, count] + [Int](repeating: 1, count: rank - 2)
    }

    // MARK: Convolutions

    /// Conv1D / Conv2D: kernel (k…, C/groups, filters) → (filters, C/groups, k…).
    static func conv(_ c: LayerCall, spatial: Int) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        let filters = try c.int("filters", -1)
        guard filters > 0 else { throw CAMError(.invalidModel, "config 'filters' is missing or not positive") }
        let k = try c.ints("kernel_size", count: spatial)
        let s = try c.ints("strides", count: spatial, [Int](repeating: 1, count: spatial))
        let d = try c.ints("dilation_rate", count: spatial, [Int](repeating: 1, count: spatial))
        let groups = try c.int("groups", 1)
        let useBias = try c.bool("use_bias", true)
        guard groups >= 1, x.channels.map({ $0 % groups == 0 }) ?? true, filters % groups == 0 else {
            throw CAMError(.invalidModel, "groups \(groups) does not divide the \(x.channels.map(String.init) ?? "?") input channels and \(filters) filters")
        }
        let paddingName = try c.string("padding", "valid").lowercased()
        let padding: Padding
        if paddingName == "causal" {
            guard spatial == 1 else { throw CAMError(.unsupported, "causal padding is only defined for Conv1D") }
            padding = .explicit([(k[0] - 1) * d[0], 0])
        } else {
            padding = try c.padding()
        }
        let w = try c.weights.take(useBias ? ["kernel", "bias"] : ["kernel"])
        try c.weights.check(w[0], "kernel", k.map { Optional($0) } + [x.channels.map { $0 / groups }, filters])
        if useBias { try c.weights.check(w[1], "bias", [filters]) }
        let kernel = try transposed(w[0], [spatial + 1, spatial] + Array(0..<spatial))
        let op = Convolution(strides: s, dilations: d, padding: padding, group: groups, kernelShape: k)
        var shape: [Int?] = [x.shape[0]]
        for i in 0..<spatial {
            if paddingName == "causal" {
                shape.append(LayerCall.windowOutput(x.shape[1 + i].map { $0 + (k[i] - 1) * d[i] }, kernel: k[i], stride: s[i], dilation: d[i], same: false))
            } else {
                shape.append(LayerCall.windowOutput(x.shape[1 + i], kernel: k[i], stride: s[i], dilation: d[i], same: padding == .sameUpper))
            }
        }
        shape.append(filters)
        let ins: [ValueID?] = [x.id, c.constant(kernel, "kernel")] + (useBias ? [c.constant(w[1], "bias")] : [])
        return try c.finish(op, ins, shape: shape, activation: try c.activationName())
    }

    /// A depthwise kernel (k…, C, multiplier) as grouped-convolution weights (C·multiplier, 1, k…),
    /// output channel c·multiplier + m as TensorFlow orders them.
    static func depthwiseKernel(_ w: Tensor, spatial: Int) throws -> Tensor {
        let t = try transposed(w, [spatial, spatial + 1] + Array(0..<spatial))
        let k = Array(w.shape[0..<spatial])
        return t.reshaped(to: [w.shape[spatial] * w.shape[spatial + 1], 1] + k)
    }

    static func windowShape(_ x: KTensor, spatial: Int, k: [Int], s: [Int], d: [Int], same: Bool, channels: Int?) -> [Int?] {
        [x.shape[0]] + (0..<spatial).map { LayerCall.windowOutput(x.shape[1 + $0], kernel: k[$0], stride: s[$0], dilation: d[$0], same: same) } + [channels]
    }

    /// DepthwiseConv1D / DepthwiseConv2D.
    static func depthwise(_ c: LayerCall, spatial: Int) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        let k = try c.ints("kernel_size", count: spatial)
        let s = try c.ints("strides", count: spatial, [Int](repeating: 1, count: spatial))
        let d = try c.ints("dilation_rate", count: spatial, [Int](repeating: 1, count: spatial))
        let m = try c.int("depth_multiplier", 1)
        let useBias = try c.bool("use_bias", true)
        let padding = try c.padding()
        let w = try c.weights.take(useBias ? ["depthwise_kernel|kernel", "bias"] : ["depthwise_kernel|kernel"])
        try c.weights.check(w[0], "depthwise_kernel", k.map { Optional($0) } + [x.channels, m])
        let channels = w[0].shape[spatial] * m
        if useBias { try c.weights.check(w[1], "bias", [channels]) }
        let op = Convolution(strides: s, dilations: d, padding: padding, group: w[0].shape[spatial], kernelShape: k)
        let ins: [ValueID?] = [x.id, c.constant(try depthwiseKernel(w[0], spatial: spatial), "kernel")] + (useBias ? [c.constant(w[1], "bias")] : [])
        return try c.finish(op, ins, shape: windowShape(x, spatial: spatial, k: k, s: s, d: d, same: padding == .sameUpper, channels: channels),
                            activation: try c.activationName())
    }

    /// SeparableConv1D / SeparableConv2D: a depthwise convolution, then a pointwise one.
    static func separable(_ c: LayerCall, spatial: Int) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        let filters = try c.int("filters", -1)
        guard filters > 0 else { throw CAMError(.invalidModel, "config 'filters' is missing or not positive") }
        let k = try c.ints("kernel_size", count: spatial)
        let s = try c.ints("strides", count: spatial, [Int](repeating: 1, count: spatial))
        let d = try c.ints("dilation_rate", count: spatial, [Int](repeating: 1, count: spatial))
        let m = try c.int("depth_multiplier", 1)
        let useBias = try c.bool("use_bias", true)
        let padding = try c.padding()
        let w = try c.weights.take(["depthwise_kernel", "pointwise_kernel"] + (useBias ? ["bias"] : []))
        try c.weights.check(w[0], "depthwise_kernel", k.map { Optional($0) } + [x.channels, m])
        let mid = w[0].shape[spatial] * m
        try c.weights.check(w[1], "pointwise_kernel", [Int?](repeating: 1, count: spatial) + [mid, filters])
        if useBias { try c.weights.check(w[2], "bias", [filters]) }
        let depthwise = Convolution(strides: s, dilations: d, padding: padding, group: w[0].shape[spatial], kernelShape: k)
        let y = c.emit(depthwise, [x.id, c.constant(try depthwiseKernel(w[0], spatial: spatial), "depthwise_kernel")], "depthwise")
        let pointwise = try transposed(w[1], [spatial + 1, spatial] + Array(0..<spatial))
        let ins: [ValueID?] = [y, c.constant(pointwise, "pointwise_kernel")] + (useBias ? [c.constant(w[2], "bias")] : [])
        return try c.finish(Convolution(kernelShape: [Int](repeating: 1, count: spatial)), ins,
                            shape: windowShape(x, spatial: spatial, k: k, s: s, d: d, same: padding == .sameUpper, channels: filters),
                            activation: try c.activationName())
    }

    /// Conv1DTranspose / Conv2DTranspose: kernel (k…, filters, C) → (C, filters, k…); Keras's
    /// "same"/"valid" and output_padding become crops of the full transposed convolution.
    static func convTranspose(_ c: LayerCall, spatial: Int) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        let filters = try c.int("filters", -1)
        guard filters > 0 else { throw CAMError(.invalidModel, "config 'filters' is missing or not positive") }
        let k = try c.ints("kernel_size", count: spatial)
        let s = try c.ints("strides", count: spatial, [Int](repeating: 1, count: spatial))
        let d = try c.ints("dilation_rate", count: spatial, [Int](repeating: 1, count: spatial))
        let outputPadding: [Int]? = c.value("output_padding") == nil ? nil : try c.ints("output_padding", count: spatial)
        let same: Bool
        switch try c.string("padding", "valid").lowercased() {
        case "valid": same = false
        case "same": same = true
        case let other: throw CAMError(.unsupported, "padding '\(other)' is not supported (valid or same)")
        }
        let useBias = try c.bool("use_bias", true)
        let w = try c.weights.take(useBias ? ["kernel", "bias"] : ["kernel"])
        try c.weights.check(w[0], "kernel", k.map { Optional($0) } + [filters, x.channels])
        if useBias { try c.weights.check(w[1], "bias", [filters]) }
        var begins: [Int] = [], ends: [Int] = [], extra: [Int] = []
        var shape: [Int?] = [x.shape[0]]
        for i in 0..<spatial {
            let keff = (k[i] - 1) * d[i] + 1
            let left: Int, right: Int
            if !same {
                let op = outputPadding?[i] ?? (max(keff, s[i]) - keff)
                (left, right) = (keff - 1, keff - 1 + op)
            } else {
                let padLength = outputPadding.map { keff + keff % 2 - 2 + $0[i] } ?? (s[i] + keff - 2)
                left = min(padLength / 2 + padLength % 2, keff - 1)
                right = padLength - left
            }
            let cropBegin = keff - 1 - left, cropEnd = keff - 1 - right
            guard cropBegin >= 0, -cropEnd < s[i] || cropEnd >= 0 else {
                throw CAMError(.unsupported, "output_padding \(outputPadding ?? []) must be smaller than the strides \(s)")
            }
            begins.append(cropBegin)
            ends.append(max(cropEnd, 0))
            extra.append(max(-cropEnd, 0))
            shape.append(x.shape[1 + i].map { ($0 - 1) * s[i] + keff - cropBegin - cropEnd })
        }
        shape.append(filters)
        let kernel = try transposed(w[0], [spatial + 1, spatial] + Array(0..<spatial))
        let op = ConvTranspose(strides: s, dilations: d, pads: begins + ends, outputPadding: extra)
        let ins: [ValueID?] = [x.id, c.constant(kernel, "kernel")] + (useBias ? [c.constant(w[1], "bias")] : [])
        return try c.finish(op, ins, shape: shape, activation: try c.activationName())
    }

    /// Dense: on (N, C) a GEMM; on channels-first rank 3–4 values a 1×1 convolution (Dense acts
    /// on the last Keras axis, the channels); on higher ranks a MatMul in Keras's order.
    static func dense(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        let units = try c.int("units", -1)
        guard units > 0 else { throw CAMError(.invalidModel, "config 'units' is missing or not positive") }
        guard x.rank >= 2 else { throw CAMError(.invalidModel, "expects an input of rank ≥ 2, got shape \(text(x.shape))") }
        let useBias = try c.bool("use_bias", true)
        let w = try c.weights.take(useBias ? ["kernel", "bias"] : ["kernel"])
        try c.weights.check(w[0], "kernel", [x.channels, units])
        if useBias { try c.weights.check(w[1], "bias", [units]) }
        let activation = try c.activationName()
        let shape = Array(x.shape.dropLast()) + [units]
        let bias: [ValueID?] = useBias ? [c.constant(w[1], "bias")] : []
        switch x.rank {
        case 2:
            return try c.finish(Gemm(), [x.id, c.constant(w[0], "kernel")] + bias, shape: shape, activation: activation)
        case 3, 4:
            let cin = w[0].shape[0]
            let kernel = try transposed(w[0], [1, 0]).reshaped(to: [units, cin] + [Int](repeating: 1, count: x.rank - 2))
            return try c.finish(Convolution(kernelShape: [Int](repeating: 1, count: x.rank - 2)), [x.id, c.constant(kernel, "kernel")] + bias,
                                shape: shape, activation: activation)
        default:
            var y = c.emit(MatMul(), [c.kerasOrder(x), c.constant(w[0], "kernel")], "matmul")
            if useBias { y = c.emit(Binary(.add), [y, bias[0]], "bias") }
            return try c.finish(Transpose(perm: Layout.toChannelsFirst(x.rank)), [y], shape: shape, activation: activation)
        }
    }

    // MARK: Normalization

    static func lastAxisOnly(_ c: LayerCall, _ key: String, rank: Int, allowNull: Bool = false) throws {
        var axes: [Int] = []
        if let v = c.value(key) {
            if let i = v.int { axes = [i] } else if let a = v.array, a.allSatisfy({ $0.int != nil }) { axes = a.map { $0.int! } } else {
                throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected an axis")
            }
        } else if allowNull {
            return
        } else {
            axes = [-1]
        }
        guard axes.count == 1, axes[0] == -1 || axes[0] == rank - 1 else {
            throw CAMError(.unsupported, "\(key) \(axes) is not supported (only the channel axis, -1)")
        }
    }

    static func batchNormalization(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        guard x.rank >= 2 else { throw CAMError(.invalidModel, "expects an input of rank ≥ 2, got shape \(text(x.shape))") }
        try lastAxisOnly(c, "axis", rank: x.rank)
        let scale = try c.bool("scale", true), center = try c.bool("center", true)
        let epsilon = Float(try c.double("epsilon", 1e-3))
        let names = (scale ? ["gamma"] : []) + (center ? ["beta"] : []) + ["moving_mean", "moving_variance"]
        var w = try c.weights.take(names)
        let n = w.last!.count
        for (t, name) in zip(w, names) { try c.weights.check(t, name, [x.channels ?? n]) }
        if !scale { w.insert(Tensor(repeating: 1, shape: [n]), at: 0) }
        if !center { w.insert(Tensor(zeros: [n]), at: 1) }
        let ins: [ValueID?] = [x.id] + zip(w, ["gamma", "beta", "moving_mean", "moving_variance"]).map { c.constant($0.0, $0.1) }
        return try c.finish(BatchNormalization(epsilon: epsilon), ins, shape: x.shape)
    }

    static func rescaling(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        func constant(_ key: String, _ dflt: Float) throws -> (ValueID, Bool) {
            guard let v = c.value(key) else { return (c.scalar(dflt, key), false) }
            if let d = v.double { return (c.scalar(Float(d), key), Float(d) != dflt) }
            if let a = v.array, a.allSatisfy({ $0.double != nil }), !a.isEmpty {
                guard a.count == 1 || a.count == x.channels else {
                    throw CAMError(.unsupported, "\(key) has \(a.count) values; only a scalar or one per channel (\(x.channels.map(String.init) ?? "?")) is supported")
                }
                let values = a.map { Float($0.double!) }
                return (c.constant(Tensor(shape: a.count == 1 ? [] : channelShape(a.count, rank: x.rank), floats: values), key), true)
            }
            throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected a number or a list of numbers")
        }
        let (scale, _) = try constant("scale", 1)
        let (offset, hasOffset) = try constant("offset", 0)
        if !hasOffset { return try c.finish(Binary(.mul), [x.id, scale], shape: x.shape) }
        return try c.finish(Binary(.add), [c.emit(Binary(.mul), [x.id, scale], "scaled"), offset], shape: x.shape)
    }

    /// Normalization: (x − mean) / max(√variance, 1e-7), or its inverse, per channel.
    static func normalization(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        try lastAxisOnly(c, "axis", rank: x.rank, allowNull: true)
        let mean: [Float], variance: [Float]
        if let m = c.value("mean"), let v = c.value("variance") {
            func floats(_ j: JSONValue, _ key: String) throws -> [Float] {
                if let d = j.double { return [Float(d)] }
                if let a = j.array, a.allSatisfy({ $0.double != nil }) { return a.map { Float($0.double!) } }
                throw CAMError(.unsupported, "config '\(key)' is \(j.brief); only a number or a flat list is supported")
            }
            mean = try floats(m, "mean")
            variance = try floats(v, "variance")
        } else {
            let w = try c.weights.take(["mean", "variance", "count"])
            mean = w[0].toFloats()
            variance = w[1].toFloats()
        }
        guard mean.count == variance.count, mean.count == 1 || x.channels == nil || mean.count == x.channels else {
            throw CAMError(.invalidModel, "mean (\(mean.count) values) and variance (\(variance.count)) must hold one value, or one per channel (\(x.channels.map(String.init) ?? "?"))")
        }
        let std = variance.map { Swift.max($0.squareRoot(), 1e-7) }
        let shape = mean.count == 1 ? [] : channelShape(mean.count, rank: x.rank)
        let meanID = c.constant(Tensor(shape: shape, floats: mean), "mean")
        let stdID = c.constant(Tensor(shape: shape, floats: std), "std")
        if try c.bool("invert", false) {
            return try c.finish(Binary(.add), [meanID, c.emit(Binary(.mul), [x.id, stdID], "scaled")], shape: x.shape)
        }
        return try c.finish(Binary(.div), [c.emit(Binary(.sub), [x.id, meanID], "centered"), stdID], shape: x.shape)
    }

    // MARK: Activation layers

    /// ReLU(max_value, negative_slope, threshold) exactly as Keras computes it:
    /// clip(x·[x > threshold], 0, max_value) − negative_slope · relu(threshold − x).
    static func relu(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        let maxValue = try c.optionalDouble("max_value").map(Float.init)
        let slope = Float(try c.double("negative_slope", 0))
        let threshold = Float(try c.double("threshold", 0))
        if threshold == 0 {
            if slope == 0 {
                if let m = maxValue { return try c.finish(Clip(), [x.id, c.scalar(0, "min"), c.scalar(m, "max")], shape: x.shape) }
                return try c.finish(Unary(.relu), [x.id], shape: x.shape)
            }
            if maxValue == nil { return try c.finish(Unary(.leakyRelu(alpha: slope)), [x.id], shape: x.shape) }
        }
        let thresholdID = c.scalar(threshold, "threshold")
        var positive: ValueID
        if threshold != 0 {
            let above = c.emit(Compare(.greater), [x.id, thresholdID], "above")
            positive = c.emit(Where(), [above, x.id, c.scalar(0, "zero")], "thresholded")
        } else {
            positive = c.emit(Unary(.relu), [x.id], "relu")
        }
        if let m = maxValue {
            let clipOp = Clip(), clipIns: [ValueID?] = [positive, c.scalar(0, "min"), c.scalar(m, "max")]
            if slope == 0 { return try c.finish(clipOp, clipIns, shape: x.shape) }
            positive = c.emit(clipOp, clipIns, "clip")
        }
        if slope == 0 { return try c.finish(Identity(), [positive], shape: x.shape) }
        let negative = c.emit(Unary(.relu), [c.emit(Binary(.sub), [thresholdID, x.id], "below")], "negative")
        let scaled = c.emit(Binary(.mul), [negative, c.scalar(slope, "negative_slope")], "scaled_negative")
        return try c.finish(Binary(.sub), [positive, scaled], shape: x.shape)
    }

    /// PReLU: relu(x) − alpha · relu(−x), alpha shaped like the input (shared axes of size 1).
    static func prelu(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        let alpha = try c.weights.take(["alpha"])[0]
        var expected = Array(x.shape.dropFirst())
        if let shared = c.value("shared_axes") {
            let axes = shared.int.map { [$0] } ?? shared.array?.compactMap(\.int) ?? []
            for a in axes where a >= 1 && a < x.rank { expected[a - 1] = 1 }
        }
        try c.weights.check(alpha, "alpha", expected)
        let stored = try transposed(alpha.reshaped(to: [1] + alpha.shape), Layout.toChannelsFirst(alpha.rank + 1))
        let positive = c.emit(Unary(.relu), [x.id], "positive")
        let negative = c.emit(Unary(.relu), [c.emit(Unary(.neg), [x.id], "neg")], "negative")
        let scaled = c.emit(Binary(.mul), [c.constant(stored, "alpha"), negative], "scaled_negative")
        return try c.finish(Binary(.sub), [positive, scaled], shape: x.shape)
    }

    static func softmax(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        var axis = -1
        if let v = c.value("axis") {
            if let i = v.int { axis = i } else if let a = v.array, a.count == 1, let i = a[0].int { axis = i } else {
                throw CAMError(.unsupported, "axis \(v.brief) is not supported (one axis)")
            }
        }
        guard let stored = Layout.storedAxis(axis, rank: x.rank) else {
            throw CAMError(.invalidModel, "axis \(axis) is out of range for an input of shape \(text(x.shape))")
        }
        return try c.finish(Softmax(axis: stored), [x.id], shape: x.shape)
    }

    // MARK: Pooling

    static func pool(_ c: LayerCall, spatial: Int, max: Bool) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        let k = try c.ints("pool_size", count: spatial, [Int](repeating: 2, count: spatial))
        let s = try c.ints("strides", count: spatial, k)
        let padding = try c.padding()
        let window = PoolWindow(kernel: k, strides: s, padding: padding)
        let shape = windowShape(x, spatial: spatial, k: k, s: s, d: [Int](repeating: 1, count: spatial), same: padding == .sameUpper, channels: x.channels)
        if max { return try c.finish(MaxPool(window), [x.id], shape: shape) }
        // Keras (TensorFlow, JAX) averages over the window's part inside the input.
        return try c.finish(AveragePool(window, countIncludePad: false), [x.id], shape: shape)
    }

    static func globalPool(_ c: LayerCall, spatial: Int, _ kind: GlobalPool.Kind) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        if try c.bool("keepdims", false) {
            return try c.finish(GlobalPool(kind), [x.id], shape: [x.shape[0]] + [Int?](repeating: 1, count: spatial) + [x.channels])
        }
        let pooled = c.emit(GlobalPool(kind), [x.id], "pooled")
        return try c.finish(Flatten(axis: 1), [pooled], shape: [x.shape[0], x.channels])
    }

    // MARK: Merging

    static func mergedShape(_ c: LayerCall, minimum: Int = 2, exactly: Int? = nil) throws -> [Int?] {
        guard c.inputs.count >= minimum, exactly.map({ c.inputs.count == $0 }) ?? true else {
            throw CAMError(.invalidModel, "is called on \(c.inputs.count) inputs; expected \(exactly.map(String.init) ?? "at least \(minimum)")")
        }
        let rank = c.inputs[0].rank
        guard c.inputs.allSatisfy({ $0.rank == rank }) else {
            throw CAMError(.unsupported, "inputs of different ranks (\(c.inputs.map { text($0.shape) }.joined(separator: ", "))) are not supported")
        }
        return (0..<rank).map { i in
            let known = c.inputs.compactMap { $0.shape[i] }
            return known.max()
        }
    }

    static func merge(_ c: LayerCall, _ kind: Binary.Kind) throws -> KTensor {
        let shape = try mergedShape(c, exactly: kind == .sub ? 2 : nil)
        var acc = c.inputs[0].id
        for (i, t) in c.inputs.enumerated().dropFirst().dropLast() { acc = c.emit(Binary(kind), [acc, t.id], "partial_\(i)") }
        return try c.finish(Binary(kind), [acc, c.inputs[c.inputs.count - 1].id], shape: shape)
    }

    static func average(_ c: LayerCall) throws -> KTensor {
        let shape = try mergedShape(c)
        var acc = c.inputs[0].id
        for (i, t) in c.inputs.enumerated().dropFirst() { acc = c.emit(Binary(.add), [acc, t.id], "sum_\(i)") }
        return try c.finish(Binary(.div), [acc, c.scalar(Float(c.inputs.count), "count")], shape: shape)
    }

    static func concatenate(_ c: LayerCall) throws -> KTensor {
        var shape = try mergedShape(c)
        let axis = try c.int("axis", -1)
        guard let stored = Layout.storedAxis(axis, rank: shape.count), stored != 0 else {
            throw CAMError(.invalidModel, "axis \(axis) is not a non-batch axis of inputs of rank \(shape.count)")
        }
        let a = axis < 0 ? axis + shape.count : axis
        let sizes = c.inputs.map { $0.shape[a] }
        shape[a] = sizes.contains { $0 == nil } ? nil : sizes.reduce(0) { $0 + $1! }
        return try c.finish(Concat(axis: stored), c.inputs.map { $0.id }, shape: shape)
    }

    // MARK: Spatial rearrangement

    static func zeroPadding(_ c: LayerCall, spatial: Int) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        let p = try c.pairs("padding", count: spatial)
        guard p.allSatisfy({ $0.0 >= 0 && $0.1 >= 0 }) else { throw CAMError(.invalidModel, "padding must not be negative") }
        let pads = [0, 0] + p.map(\.0) + [0, 0] + p.map(\.1)
        let shape = [x.shape[0]] + (0..<spatial).map { i in x.shape[1 + i].map { $0 + p[i].0 + p[i].1 } } + [x.channels]
        return try c.finish(Pad(mode: .constant), [x.id, c.int64s(pads, "pads")], shape: shape)
    }

    static func cropping(_ c: LayerCall, spatial: Int) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        let p = try c.pairs("cropping", count: spatial)
        guard p.allSatisfy({ $0.0 >= 0 && $0.1 >= 0 }) else { throw CAMError(.invalidModel, "cropping must not be negative") }
        for i in 0..<spatial {
            if let n = x.shape[1 + i], p[i].0 + p[i].1 >= n {
                throw CAMError(.invalidModel, "cropping \(p[i].0) + \(p[i].1) leaves nothing of an axis of size \(n)")
            }
        }
        let starts = p.map(\.0)
        let ends = p.map { $0.1 > 0 ? -$0.1 : Int(Int64.max) }
        let axes = Array(2..<(2 + spatial))
        let shape = [x.shape[0]] + (0..<spatial).map { i in x.shape[1 + i].map { $0 - p[i].0 - p[i].1 } } + [x.channels]
        return try c.finish(Slice(), [x.id, c.int64s(starts, "starts"), c.int64s(ends, "ends"), c.int64s(axes, "axes")], shape: shape)
    }

    /// UpSampling1D / UpSampling2D: nearest (repetition) or bilinear (half-pixel centres as
    /// TensorFlow 2 and JAX resize; Keras ≤ 2.3 with TensorFlow 1 resized with asymmetric ones).
    static func upSampling(_ c: LayerCall, spatial: Int) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        try requireRank(x, spatial + 2)
        let size = spatial == 1 ? [try c.int("size", 2)] : try c.ints("size", count: 2, [2, 2])
        guard size.allSatisfy({ $0 >= 1 }) else { throw CAMError(.invalidModel, "size \(size) must be positive") }
        let op: Resize
        switch try c.string("interpolation", "nearest").lowercased() {
        case "nearest":
            op = Resize(mode: .nearest, coordinateTransform: .asymmetric, nearestRounding: .floor, scales: size.map(Float.init))
        case "bilinear":
            op = Resize(mode: .linear, coordinateTransform: legacyBilinear(c) ? .asymmetric : .halfPixel, scales: size.map(Float.init))
        case let other:
            throw CAMError(.unsupported, "interpolation '\(other)' is not supported (nearest or bilinear)")
        }
        let shape = [x.shape[0]] + (0..<spatial).map { i in x.shape[1 + i].map { $0 * size[i] } } + [x.channels]
        return try c.finish(op, [x.id], shape: shape)
    }

    /// Multi-backend Keras up to 2.3 resized with TensorFlow 1's `resize_bilinear` (no half-pixel
    /// centres); tf.keras ("2.x-tf", 2.4+) and Keras 3 use half-pixel centres.
    static func legacyBilinear(_ c: LayerCall) -> Bool {
        guard c.kerasMajorVersion == 2, !c.kerasVersion.contains("tf") else { return false }
        let parts = c.kerasVersion.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) }
        return parts.count >= 2 && parts[1] <= 3
    }

    /// Flatten in Keras's (NHWC) order.
    static func flatten(_ c: LayerCall) throws -> KTensor {
        try c.requireChannelsLast()
        let x = try c.input()
        let size = x.shape.dropFirst().contains { $0 == nil } ? nil : x.shape.dropFirst().reduce(1) { $0 * $1! }
        if x.rank <= 2 { return try c.finish(Identity(), [x.id], shape: x.shape) }
        return try c.finish(Flatten(axis: 1), [c.kerasOrder(x)], shape: [x.shape[0], size])
    }

    static func reshape(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        guard let list = c.value("target_shape")?.array, list.allSatisfy({ $0.int != nil }), !list.isEmpty else {
            throw CAMError(.invalidModel, "config 'target_shape' is missing or not a list of integers")
        }
        var target = list.map { $0.int! }
        guard target.allSatisfy({ $0 > 0 || $0 == -1 }), target.filter({ $0 == -1 }).count <= 1 else {
            throw CAMError(.invalidModel, "target_shape \(target) must hold positive sizes and at most one -1")
        }
        let total = x.shape.dropFirst().contains { $0 == nil } ? nil : x.shape.dropFirst().reduce(1) { $0 * $1! }
        if let total {
            let known = target.filter { $0 > 0 }.reduce(1, *)
            if let i = target.firstIndex(of: -1) {
                guard known > 0, total % known == 0 else { throw CAMError(.invalidModel, "cannot reshape \(text(x.shape)) to \(target)") }
                target[i] = total / known
            } else if known != total {
                throw CAMError(.invalidModel, "cannot reshape \(text(x.shape)) (\(total) values per item) to \(target)")
            }
        }
        let shape: [Int?] = [x.shape[0]] + target.map { $0 < 0 ? nil : $0 }
        let shapeID = c.int64s([0] + target, "target_shape")
        if shape.count < 3 { return try c.finish(Reshape(), [c.kerasOrder(x), shapeID], shape: shape) }
        let y = c.emit(Reshape(), [c.kerasOrder(x), shapeID], "reshaped")
        return try c.finish(Transpose(perm: Layout.toChannelsFirst(shape.count)), [y], shape: shape)
    }

    /// Permute(dims) (1-based Keras axes), as one Transpose between stored layouts.
    static func permute(_ c: LayerCall) throws -> KTensor {
        let x = try c.input()
        guard let list = c.value("dims")?.array, list.allSatisfy({ $0.int != nil }) else {
            throw CAMError(.invalidModel, "config 'dims' is missing or not a list of integers")
        }
        let dims = list.map { $0.int! }
        guard dims.count == x.rank - 1, Set(dims) == Set(1..<x.rank) else {
            throw CAMError(.invalidModel, "dims \(dims) is not a permutation of the axes 1…\(x.rank - 1) of an input of shape \(text(x.shape))")
        }
        let p = [0] + dims                               // Keras output axis j ← Keras input axis p[j]
        let toStored = Layout.toChannelsFirst(x.rank)    // stored axis i ← Keras axis toStored[i]
        let perm = toStored.map { Layout.storedAxis(p[$0], rank: x.rank)! }
        let shape = p.map { x.shape[$0] }
        return try c.finish(Transpose(perm: perm), [x.id], shape: shape)
    }
}
