/// `ConvTranspose(x, W, B?)`: the transposed (fractionally strided) 1-D/2-D convolution, with
/// ONNX's weight layout (C_in, C_out / group, k…), explicit `pads` cropped from the full output
/// (all begins, then all ends) and `outputPadding` added at the end of each axis:
///
///     out = (in − 1)·stride + (k − 1)·dilation + 1 + outputPadding − padBegin − padEnd
///
/// It is the gradient of a convolution with respect to its input, so both directions reuse the
/// convolution kernels: forward is `ConvBackwardData`'s transposed convolution, and the VJP with
/// respect to `x` is the convolution of the output gradient with the same weights.
public struct ConvTranspose: Operator {
    public let strides: [Int]
    public let dilations: [Int]
    public let pads: [Int]
    public let outputPadding: [Int]
    public let group: Int

    public init(strides: [Int] = [], dilations: [Int] = [], pads: [Int] = [], outputPadding: [Int] = [], group: Int = 1) {
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.outputPadding = outputPadding
        self.group = group
    }

    public var name: String { "ConvTranspose" }

    /// The convolution whose input gradient this is (its input is this operator's output).
    var forwardConvolution: Convolution {
        Convolution(strides: strides, dilations: dilations, padding: .explicit(pads), group: group)
    }

    /// The output shape for input `x` and weights `w`, validated.
    func outputShape(_ x: [Int], _ w: [Int]) throws -> [Int] {
        let spatial = x.count - 2
        guard spatial == 1 || spatial == 2, w.count == x.count else {
            throw CAMError(.runtime, "ConvTranspose: input \(x) and weights \(w) must both be (N, C, spatial…) of the same rank, with 1 or 2 spatial axes")
        }
        guard group > 0, x[1] == w[0], w[0] % group == 0 else {
            throw CAMError(.runtime, "ConvTranspose: input has \(x[1]) channels but the weights \(w) expect \(w[0]) (divisible by group \(group))")
        }
        let s = strides.isEmpty ? [Int](repeating: 1, count: spatial) : strides
        let d = dilations.isEmpty ? [Int](repeating: 1, count: spatial) : dilations
        let p = pads.isEmpty ? [Int](repeating: 0, count: 2 * spatial) : pads
        let o = outputPadding.isEmpty ? [Int](repeating: 0, count: spatial) : outputPadding
        guard s.count == spatial, d.count == spatial, p.count == 2 * spatial, o.count == spatial,
              s.allSatisfy({ $0 > 0 }), d.allSatisfy({ $0 > 0 }), p.allSatisfy({ $0 >= 0 }) else {
            throw CAMError(.invalidModel, "ConvTranspose: strides \(strides), dilations \(dilations), pads \(pads) and output padding \(outputPadding) must match \(spatial) spatial axes (positive strides and dilations, non-negative pads)")
        }
        guard zip(o, s).allSatisfy({ $0.0 >= 0 && $0.0 < $0.1 }) else {
            throw CAMError(.invalidModel, "ConvTranspose: output padding \(o) must be non-negative and smaller than the strides \(s)")
        }
        var out = [x[0], w[1] * group]
        for i in 0..<spatial {
            let n = (x[2 + i] - 1) * s[i] + (w[2 + i] - 1) * d[i] + 1 + o[i] - p[i] - p[spatial + i]
            guard n > 0 else { throw CAMError(.runtime, "ConvTranspose: pads \(p) leave an empty output for input \(x)") }
            out.append(n)
        }
        return out
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let x = inputs[0], let w = inputs[1] else { throw CAMError(.invalidModel, "ConvTranspose takes (x, W, B?)") }
        guard x.dtype == .float32, w.dtype == .float32 else { throw CAMError(.unsupported, "ConvTranspose on \(x.dtype) is not supported") }
        let shape = try checkedShape(try outputShape(x.shape, w.shape), name)
        let g = try forwardConvolution.geometry(shape, w.shape)
        guard g.outputShape(channels: w.shape[0], spatialRank: x.rank - 2) == x.shape else {
            throw CAMError(.runtime, "ConvTranspose: input \(x.shape) does not fit output \(shape)")
        }
        let out = ConvBackwardData.transposedConvolution(x, w, g, group: group, inputShape: shape)
        if inputs.count > 2, let b = inputs[2] {
            guard b.count == shape[1], b.dtype == .float32 else {
                throw CAMError(.runtime, "ConvTranspose: bias has \(b.count) values for \(shape[1]) output channels")
            }
            applyBiasAndActivation(out, bias: b, activation: nil)
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        if node.needsGradient.count > 1 && node.needsGradient[1...].contains(true) {
            throw CAMError(.unsupported, "gradients with respect to ConvTranspose weights or biases are not supported (only activations)")
        }
        guard let g = node.outputGradient, node.needsGradient[0] else { return node.inputs.map { _ in nil } }
        let dx = b.apply(forwardConvolution, g, try node.input(1))
        return [dx] + node.inputs.dropFirst().map { _ in nil }
    }
}
