/// `MatMul(A, W) + bias` in one product: the output rows start as the bias and the GEMM adds
/// A·W to them, saving the pass that zeroes the output and the pass that adds the bias —
/// a transformer's projections (`GraphOptimizer.fuseMatMulBias` writes it). Inputs
/// (A, W, bias) with W 2-D (k × n) and bias n values.
public struct MatMulBias: Operator {
    public init() {}
    public var name: String { "MatMul+Bias" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let a = inputs[0], let w = inputs[1], let bias = inputs[2],
              a.dtype == .float32, w.dtype == .float32, bias.dtype == .float32 else {
            throw CAMError(.invalidModel, "MatMul+Bias takes float32 (A, W, bias)")
        }
        guard w.rank == 2, a.shape.last == w.shape[0] else {
            throw CAMError(.runtime, "MatMul+Bias: \(a.shape) and \(w.shape) do not multiply")
        }
        let (k, n) = (w.shape[0], w.shape[1])
        guard a.rank >= 2, bias.rank >= 1, bias.rank <= a.rank, bias.count == n, bias.shape.last == n else {
            // Shapes the fused product does not cover (a vector A, a bias that broadcasts
            // further): as the two nodes it replaced.
            return try Binary(.add).forward([try MatMul().forward([a, w])[0], bias])
        }
        let rows = a.count / Swift.max(k, 1)
        let out = Tensor(uninitialized: try checkedShape(Array(a.shape.dropLast()) + [n], name))
        let po = out.mutableFloats.baseAddress!, pb = bias.floats.baseAddress!
        parallelFor(rows, grain: Swift.max(1, 16384 / Swift.max(n, 1))) { r in
            for row in r { (po + row * n).update(from: pb, count: n) }
        }
        sgemm(m: rows, n: n, k: k, a: a.floats.baseAddress!, lda: k, b: w.floats.baseAddress!, ldb: n, beta: 1, c: po, ldc: n)
        withExtendedLifetime((a, w, bias)) {}
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil, nil] }
        let x = try node.input(0), w = try node.input(1), bias = try node.input(2)
        let gx = node.needsGradient[0] ? b.apply(MatMulGradient(side: .left), g, x, w) : nil
        let gw = node.needsGradient[1] ? b.apply(MatMulGradient(side: .right), g, x, w) : nil
        let gb = node.needsGradient[2] ? b.unbroadcast(g, like: bias) : nil
        return [gx, gw, gb]
    }
}
