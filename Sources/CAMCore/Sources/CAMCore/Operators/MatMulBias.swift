/// `MatMul(A, W) + bias` in one product: the output rows start as the bias and the GEMM adds
/// A·W to them, saving the pass that zeroes the output and the pass that adds the bias —
/// a transformer's projections (`GraphOptimizer.fuseMatMulBias` writes it). Inputs
/// (A, W, bias) with W 2-D (k × n) and bias n values.
///
/// With `addsResidual`, a fourth input R shaped like the output is added too (the residual
/// `Add` after a transformer's attention and MLP projections): the rows start as R + bias,
/// and the Add's own pass over the output is saved.
///
/// With `appliesGELU`, the output is the exact GELU of all that (a transformer MLP's first
/// projection and its activation, `GraphOptimizer.fuseGELUIntoProjections`): applied to each
/// block of the product as it is finished, while the block is in cache.
public struct MatMulBias: Operator {
    public let addsResidual: Bool
    public let appliesGELU: Bool
    public init(addsResidual: Bool = false, appliesGELU: Bool = false) {
        self.addsResidual = addsResidual
        self.appliesGELU = appliesGELU
    }
    public var name: String { (addsResidual ? "MatMul+Bias+Add" : "MatMul+Bias") + (appliesGELU ? "+Gelu" : "") }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let sum = try projection(inputs)
        if appliesGELU && !sum.geluApplied { return try Unary(.gelu).forward([sum.tensor]) }
        return [sum.tensor]
    }

    /// (R +) bias + A·W, and whether the packed product applied the GELU to it already.
    private func projection(_ inputs: [Tensor?]) throws -> (tensor: Tensor, geluApplied: Bool) {
        guard inputs.count == (addsResidual ? 4 : 3), let a = inputs[0], let w = inputs[1], let bias = inputs[2],
              a.dtype == .float32, w.dtype == .float32, bias.dtype == .float32 else {
            throw CAMError(.invalidModel, "\(name) takes float32 (A, W, bias\(addsResidual ? ", residual" : ""))")
        }
        let residual = addsResidual ? inputs[3] : nil
        if addsResidual, residual?.dtype != .float32 { throw CAMError(.invalidModel, "\(name): the residual must be float32") }
        guard w.rank == 2, a.shape.last == w.shape[0] else {
            throw CAMError(.runtime, "\(name): \(a.shape) and \(w.shape) do not multiply")
        }
        let (k, n) = (w.shape[0], w.shape[1])
        let outShape = Array(a.shape.dropLast()) + [n]
        guard a.rank >= 2, bias.rank >= 1, bias.rank <= a.rank, bias.count == n, bias.shape.last == n,
              residual.map({ $0.shape == outShape }) ?? true else {
            // Shapes the fused product does not cover (a vector A, a bias or residual that
            // broadcasts further): as the nodes it replaced.
            let projected = try Binary(.add).forward([try MatMul().forward([a, w])[0], bias])[0]
            guard let residual else { return (projected, false) }
            return (try Binary(.add).forward([projected, residual])[0], false)
        }
        let rows = a.count / Swift.max(k, 1)
        let out = Tensor(uninitialized: try checkedShape(outShape, name))
        let po = out.mutableFloats.baseAddress!, pb = bias.floats.baseAddress!
        let pr = residual?.floats.baseAddress
        if let packed = PackedWeights.rightMatrix(for: w) {
            // The packed product starts its sums from the residual and bias itself.
            packed.multiply(a.floats.baseAddress!, lda: k, m: rows, into: po, ldc: n, accumulate: false, bias: pb, residual: pr,
                            gelu: appliesGELU)
            withExtendedLifetime((a, w, bias, residual)) {}
            return (out, appliesGELU)
        }
        parallelFor(rows, grain: Swift.max(1, 16384 / Swift.max(n, 1))) { r in
            for row in r {
                if let pr {
                    let (dst, src) = (po + row * n, pr + row * n)
                    for j in 0..<n { dst[j] = src[j] + pb[j] }
                } else {
                    (po + row * n).update(from: pb, count: n)
                }
            }
        }
        sgemm(m: rows, n: n, k: k, a: a.floats.baseAddress!, lda: k, b: w.floats.baseAddress!, ldb: n, beta: 1, c: po, ldc: n)
        withExtendedLifetime((a, w, bias, residual)) {}
        return (out, false)
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g0 = node.outputGradient else { return [nil, nil, nil] + (addsResidual ? [nil] : []) }
        var g = g0
        if appliesGELU {
            // Through the GELU first, at the projection recomputed (the fused node never
            // stored it).
            let projected = b.apply(MatMulBias(addsResidual: addsResidual), node.inputs, outputs: 1)[0]
            guard let gp = try Unary(.gelu).gradient(&b, GradientNode(inputs: [projected], outputs: node.outputs,
                                                                       outputGradients: [g0], needsGradient: [true]))[0] else {
                return [nil, nil, nil] + (addsResidual ? [nil] : [])
            }
            g = gp
        }
        let x = try node.input(0), w = try node.input(1), bias = try node.input(2)
        let gx = node.needsGradient[0] ? b.apply(MatMulGradient(side: .left), g, x, w) : nil
        let gw = node.needsGradient[1] ? b.apply(MatMulGradient(side: .right), g, x, w) : nil
        let gb = node.needsGradient[2] ? b.unbroadcast(g, like: bias) : nil
        guard addsResidual else { return [gx, gw, gb] }
        let gr = node.needsGradient[3] ? b.unbroadcast(g, like: try node.input(3)) : nil
        return [gx, gw, gb, gr]
    }
}
