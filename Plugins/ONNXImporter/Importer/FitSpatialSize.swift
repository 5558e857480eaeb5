import CAMCore

/// ConvTranspose's `output_shape` and SAME padding: the full transposed-convolution output
/// (N, C, spatial…) cropped to a spatial size — the excess split between start and end, the
/// odd element at the end (at the start with `padMoreAtStart`) — or extended with zeros at the
/// end where it is smaller. Linear; its VJP is the adjoint
/// (`FitSpatialSizeBackward`).
///
/// Inputs: (y, reference?) — the size is fixed, or the reference's spatial size times
/// `strides` (the convolution's input, for SAME padding), or the reference's own spatial size.
struct FitSpatialSize: Operator {
    enum Size: Sendable {
        case fixed([Int])
        case inputTimesStrides([Int])
        case likeReference
    }
    let size: Size
    let padMoreAtStart: Bool
    var name: String { "ConvTransposeOutputShape" }
    func isDifferentiable(input index: Int) -> Bool { index == 0 }

    /// The spatial output size for a full output `shape` and the reference's shape.
    func target(_ shape: [Int], _ reference: [Int]?) throws -> [Int] {
        let n = shape.count - 2
        switch size {
        case .fixed(let s): return s
        case .inputTimesStrides(let strides):
            guard let r = reference, r.count == shape.count else { throw CAMError(.invalidModel, "ConvTranspose SAME padding needs the convolution input") }
            return (0..<n).map { r[2 + $0] * ($0 < strides.count ? strides[$0] : 1) }
        case .likeReference:
            guard let r = reference, r.count == shape.count else { throw CAMError(.invalidModel, "ConvTranspose output size needs a reference") }
            return Array(r.dropFirst(2))
        }
    }

    /// Per spatial axis: the offset of the output's origin in the full output and the length copied.
    func plan(_ shape: [Int], _ size: [Int]) throws -> [(offset: Int, length: Int)] {
        guard shape.count == size.count + 2, shape.count == 3 || shape.count == 4, size.allSatisfy({ $0 > 0 }) else {
            throw CAMError(.invalidModel, "ConvTranspose output size \(size) does not fit an output of shape \(shape) (1-D or 2-D)")
        }
        return zip(shape.dropFirst(2), size).map { n, m in
            let excess = Swift.max(0, n - m)
            let start = padMoreAtStart ? excess - excess / 2 : excess / 2
            return (start, Swift.min(n - start, m))
        }
    }

    /// Calls `body(fullOffset, fittedOffset, count)` for every contiguous run of copied elements.
    static func runs(full shape: [Int], fitted output: [Int], plan: [(offset: Int, length: Int)], _ body: (Int, Int, Int) -> Void) {
        let planes = shape[0] * shape[1]
        let inPlane = shape.dropFirst(2).reduce(1, *), outPlane = output.dropFirst(2).reduce(1, *)
        for p in 0..<planes {
            if plan.count == 1 {
                body(p * inPlane + plan[0].offset, p * outPlane, plan[0].length)
            } else {
                let (w, ow) = (shape[3], output[3])
                for y in 0..<plan[0].length {
                    body(p * inPlane + (y + plan[0].offset) * w + plan[1].offset, p * outPlane + y * ow, plan[1].length)
                }
            }
        }
    }

    func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil, x.dtype == .float32 else { throw CAMError(.invalidModel, "ConvTranspose output shape needs a float32 output") }
        let size = try target(x.shape, inputs.count > 1 ? inputs[1]?.shape : nil)
        let p = try plan(x.shape, size)
        let outShape = Array(x.shape.prefix(2)) + size
        let out = Tensor(zeros: outShape)
        let src = x.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
        Self.runs(full: x.shape, fitted: outShape, plan: p) { i, o, n in (dst + o).update(from: src + i, count: n) }
        return [out]
    }

    func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        return [b.apply(FitSpatialSizeBackward(padMoreAtStart: padMoreAtStart), g, try node.input(0))] + node.inputs.dropFirst().map { _ in nil }
    }
}

/// Inputs (g, y): `g` placed back where `FitSpatialSize` took it from, in zeros shaped like the
/// full output `y`. Its VJP fits the gradient back to g's size.
struct FitSpatialSizeBackward: Operator {
    let padMoreAtStart: Bool
    var name: String { "ConvTransposeOutputShapeBackward" }
    func isDifferentiable(input index: Int) -> Bool { index == 0 }

    func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let g = inputs[0], let y = inputs[1] else { throw CAMError(.invalidModel, "takes (g, y)") }
        let p = try FitSpatialSize(size: .likeReference, padMoreAtStart: padMoreAtStart).plan(y.shape, Array(g.shape.dropFirst(2)))
        let out = Tensor(zeros: y.shape)
        let src = g.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
        FitSpatialSize.runs(full: y.shape, fitted: g.shape, plan: p) { i, o, n in (dst + i).update(from: src + o, count: n) }
        return [out]
    }

    func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        return [b.apply(FitSpatialSize(size: .likeReference, padMoreAtStart: padMoreAtStart), gg, try node.input(0)), nil]
    }
}
