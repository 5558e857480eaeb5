import Foundation
internal import CKernels

/// `LayerNormalization(X, Scale, B?; axis, epsilon)` (ONNX opset 17): normalises over the
/// axes from `axis` to the last, then scales and shifts.
///
/// Outputs `(Y, Mean, InvStdDev)`, the last two shaped like `X` with the normalised axes set
/// to 1 — ONNX's optional outputs. The forward always computes all three; loaders should give
/// the node three outputs (fresh values for the ones the model does not use), so that the VJP
/// reads the statistics instead of recomputing them. With fewer outputs the VJP recomputes
/// them with a second `LayerNormalization` node.
///
/// The VJP is written with differentiable operators only (Flatten, Sub, Mul, ReduceMean,
/// ReduceBackward, SumToShapeOf, ReshapeLike), including the gradients that flow into the
/// Mean and InvStdDev outputs, so gradients of gradients work as everywhere else.
public struct LayerNormalization: Operator {
    public let axis: Int
    public let epsilon: Float
    public init(axis: Int = -1, epsilon: Float = 1e-5) {
        self.axis = axis
        self.epsilon = epsilon
    }
    public var name: String { "LayerNormalization" }

    /// The normalised axis for rank `rank`, validated.
    func resolvedAxis(rank: Int) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else {
            throw CAMError(.invalidModel, "LayerNormalization: axis \(axis) is out of range for rank \(rank)")
        }
        return a
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let x = inputs[0], let scale = inputs[1] else {
            throw CAMError(.invalidModel, "LayerNormalization takes (X, Scale, B?)")
        }
        let bias = inputs.count > 2 ? inputs[2] : nil
        guard x.dtype == .float32, scale.dtype == .float32, bias?.dtype ?? .float32 == .float32 else {
            throw CAMError(.unsupported, "LayerNormalization of \(x.dtype) tensors is not supported")
        }
        let a = try resolvedAxis(rank: x.rank)
        let outer = x.shape[..<a].reduce(1, *), inner = x.shape[a...].reduce(1, *)
        let statsShape = Array(x.shape[..<a]) + [Int](repeating: 1, count: x.rank - a)
        let normalized = Array(x.shape[a...])
        // Scale and B broadcast to the normalised shape (in practice: they have it).
        for (t, what) in [(scale, "Scale"), (bias, "B")] {
            guard let t else { continue }
            guard (try? broadcastShape([t.shape, normalized])) == normalized else {
                throw CAMError(.runtime, "LayerNormalization: \(what) \(t.shape) does not broadcast to the normalised shape \(normalized) of \(x.shape)")
            }
        }
        let gamma = try broadcastTo(scale, normalized)
        let beta = try bias.map { try broadcastTo($0, normalized) }

        let y = Tensor(uninitialized: x.shape)
        let mean = Tensor(uninitialized: statsShape), invStd = Tensor(uninitialized: statsShape)
        if inner == 0 || outer == 0 { return [y, mean, invStd] }
        let px = x.floats.baseAddress!, py = y.mutableFloats.baseAddress!
        let pm = mean.mutableFloats.baseAddress!, pr = invStd.mutableFloats.baseAddress!
        let pg = gamma.floats.baseAddress!, pb = beta?.floats.baseAddress
        let eps = epsilon
        // At least 128 Ki values a chunk: one image's token rows (~38 Ki values) run faster on one thread.
        parallelFor(outer, grain: Swift.max(1, 131072 / inner)) { rows in
            ck_layernorm_rows(px + rows.lowerBound * inner, pg, pb, py + rows.lowerBound * inner, pm + rows.lowerBound,
                              pr + rows.lowerBound, rows.count, inner, eps)
        }
        withExtendedLifetime((x, gamma, beta)) {}
        return [y, mean, invStd]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        let x = try node.input(0), scale = try node.input(1)
        let bias = node.inputs.count > 2 ? node.inputs[2] : nil
        let gy = node.outputGradients.first ?? nil
        let gMean = node.outputGradients.count > 1 ? node.outputGradients[1] : nil
        let gInvStd = node.outputGradients.count > 2 ? node.outputGradients[2] : nil
        guard gy != nil || gMean != nil || gInvStd != nil else { return node.inputs.map { _ in nil } }

        // The statistics: the node's own outputs, or recomputed.
        let mean: ValueID, invStd: ValueID
        if node.outputs.count >= 3 {
            mean = node.outputs[1]
            invStd = node.outputs[2]
        } else {
            let recomputed = b.apply(self, [x, scale, bias], outputs: 3)
            mean = recomputed[1]
            invStd = recomputed[2]
        }

        // Work on (outer, inner) views: the normalised axes are the trailing ones.
        let flat = Flatten(axis: axis)
        let lastAxis = b.constant(Tensor(shape: [1], int64s: [-1]))
        let rowMean = Reduce(.mean, keepDims: true)
        let x2 = b.apply(flat, x), mean2 = b.apply(flat, mean), r2 = b.apply(flat, invStd)
        let xhat2 = b.mul(b.sub(x2, mean2), r2)

        var gx2: ValueID?
        var gScale: ValueID?, gBias: ValueID?
        if let gy {
            if node.needsGradient[0] {
                // dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)), ĝ = gy · Scale
                let gxhat2 = b.apply(flat, b.mul(gy, scale))
                let m1 = b.apply(rowMean, [gxhat2, lastAxis], outputs: 1)[0]
                let m2 = b.apply(rowMean, [b.mul(gxhat2, xhat2), lastAxis], outputs: 1)[0]
                gx2 = b.mul(r2, b.sub(b.sub(gxhat2, m1), b.mul(xhat2, m2)))
            }
            if node.needsGradient[1] {
                gScale = b.unbroadcast(b.mul(gy, b.reshape(xhat2, like: x)), like: scale)
            }
            if let bias, node.inputs.count > 2, node.needsGradient[2] {
                gBias = b.unbroadcast(gy, like: bias)
            }
        }
        if node.needsGradient[0] {
            let spread = ReduceBackward(rowMean)
            if let gMean {
                // ∂mean/∂x = 1/n
                gx2 = b.add(gx2, b.apply(spread, [b.apply(flat, gMean), x2, lastAxis], outputs: 1)[0])
            }
            if let gInvStd {
                // ∂r/∂x = −r² · x̂ / n
                let coefficient = b.neg(b.mul(b.apply(flat, gInvStd), b.mul(r2, r2)))
                gx2 = b.add(gx2, b.mul(b.apply(spread, [coefficient, x2, lastAxis], outputs: 1)[0], xhat2))
            }
        }
        let gx = gx2.map { b.reshape($0, like: x) }
        return [gx, gScale] + (node.inputs.count > 2 ? [gBias] : [])
    }
}
