/// `Gemm(A, B, C?)` and NumPy-style batched, broadcasting `MatMul(A, B)`.
public struct Gemm: Operator {
    public let alpha: Float
    public let beta: Float
    public let transA: Bool
    public let transB: Bool

    public init(alpha: Float = 1, beta: Float = 1, transA: Bool = false, transB: Bool = false) {
        self.alpha = alpha
        self.beta = beta
        self.transA = transA
        self.transB = transB
    }
    public var name: String { "Gemm" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count >= 2, let a = inputs[0], let b = inputs[1], a.rank == 2, b.rank == 2 else {
            throw CAMError(.runtime, "Gemm takes 2-D A and B")
        }
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
        guard k == kb else { throw CAMError(.runtime, "Gemm: A \(a.shape) and B \(b.shape) do not multiply (transA \(transA), transB \(transB))") }
        let out: Tensor
        var betaUsed: Float = 0
        if inputs.count > 2, let c = inputs[2], beta != 0 {
            out = try broadcastTo(c, [m, n]).copy()
            betaUsed = beta
        } else {
            out = Tensor(uninitialized: [m, n])
        }
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.floats.baseAddress!, lda: a.shape[1],
              b: b.floats.baseAddress!, ldb: b.shape[1], beta: betaUsed, c: out.mutableFloats.baseAddress!, ldc: n)
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        let a = try node.input(0), bb = try node.input(1)
        var ga: ValueID?, gb: ValueID?, gc: ValueID?
        if node.needsGradient[0] {
            // dA' = α·g·B'ᵀ, dA = dA' or its transpose.
            ga = transA
                ? b.apply(Gemm(alpha: alpha, beta: 0, transA: transB, transB: true), bb, g)
                : b.apply(Gemm(alpha: alpha, beta: 0, transA: false, transB: !transB), g, bb)
        }
        if node.needsGradient[1] {
            // dB' = α·A'ᵀ·g, dB = dB' or its transpose.
            gb = transB
                ? b.apply(Gemm(alpha: alpha, beta: 0, transA: true, transB: transA), g, a)
                : b.apply(Gemm(alpha: alpha, beta: 0, transA: !transA, transB: false), a, g)
        }
        if node.inputs.count > 2, let c = node.inputs[2], node.needsGradient[2] {
            let scaled = beta == 1 ? g : b.mul(g, b.constant(Tensor(scalar: beta)))
            gc = b.unbroadcast(scaled, like: c)
        }
        return [ga, gb] + (node.inputs.count > 2 ? [gc] : [])
    }
}

/// `MatMul(A, B)` with NumPy semantics (1-D operands promoted, batch axes broadcast);
/// `transposeA`/`transposeB` swap the last two axes of an operand first (used by gradients).
public struct MatMul: Operator {
    public let transposeA: Bool
    public let transposeB: Bool
    public init(transposeA: Bool = false, transposeB: Bool = false) { self.transposeA = transposeA; self.transposeB = transposeB }
    public var name: String { "MatMul" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let a0 = inputs[0], let b0 = inputs[1] else {
            throw CAMError(.invalidModel, "MatMul takes two float32 inputs")
        }
        return [try product(a0, b0)]
    }

    /// `alpha · A·B` (with the operands transposed as this MatMul says): the scale is applied
    /// by the GEMM itself, with no pass of its own.
    func product(_ a0: Tensor, _ b0: Tensor, alpha: Float = 1) throws -> Tensor {
        guard a0.dtype == .float32, b0.dtype == .float32 else {
            throw CAMError(.invalidModel, "MatMul takes two float32 inputs")
        }
        guard a0.rank >= 1, b0.rank >= 1 else { throw CAMError(.runtime, "MatMul: scalars cannot be multiplied") }
        let a = a0.rank == 1 ? a0.reshaped(to: [1, a0.count]) : a0
        let b = b0.rank == 1 ? b0.reshaped(to: [b0.count, 1]) : b0
        let m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
        let k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
        let kb = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
        let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
        guard k == kb else { throw CAMError(.runtime, "MatMul: \(a0.shape) and \(b0.shape) do not multiply") }
        let items = try BatchedMatrices([MatrixStack(a), MatrixStack(b)])
        let batch = items.batch, count = items.count
        let out = Tensor(uninitialized: try checkedShape(batch + [m, n], name))
        let pa = a.floats.baseAddress!, pb = b.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let lda = a.shape[a.rank - 1], ldb = b.shape[b.rank - 1]
        if b.rank == 2 && !transposeA && count > 1 {
            // A stack of matrices times one matrix (a transformer's projections): one GEMM
            // with the batch folded into the rows.
            sgemm(transA: false, transB: transposeB, m: count * m, n: n, k: k, alpha: alpha, a: pa, lda: lda, b: pb, ldb: ldb, c: po, ldc: n)
        } else if count >= Runtime.threadCount && m * n * k < 1 << 23 {
            // Many small products (attention's heads): whole products per thread, with no
            // split, and no hand-off, inside each one.
            parallelFor(count, grain: Swift.max(1, (1 << 20) / Swift.max(1, m * n * k))) { range in
                for i in range {
                    sgemmSerial(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: alpha, a: pa + items.offset(0, of: i), lda: lda,
                                b: pb + items.offset(1, of: i), ldb: ldb, c: po + i * m * n, ldc: n)
                }
            }
        } else {
            for i in 0..<count {
                sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: alpha, a: pa + items.offset(0, of: i), lda: lda,
                      b: pb + items.offset(1, of: i), ldb: ldb, c: po + i * m * n, ldc: n)
            }
        }
        var shape = batch
        if a0.rank != 1 { shape.append(m) }
        if b0.rank != 1 { shape.append(n) }
        return out.reshaped(to: shape)
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil] }
        guard !transposeA, !transposeB else {
            throw CAMError(.unsupported, "second derivatives through transposed MatMul are not implemented")
        }
        let x = try node.input(0), y = try node.input(1)
        var gx: ValueID?, gy: ValueID?
        if node.needsGradient[0] { gx = b.apply(MatMulGradient(side: .left), g, x, y) }
        if node.needsGradient[1] { gy = b.apply(MatMulGradient(side: .right), g, x, y) }
        return [gx, gy]
    }
}

/// Gradient of `MatMul(A, B)` with respect to A (`.left`: g·Bᵀ) or B (`.right`: Aᵀ·g), summed
/// over broadcast batch axes and shaped like that operand. Inputs (g, A, B).
public struct MatMulGradient: Operator {
    public enum Side: Sendable { case left, right }
    public let side: Side
    public init(side: Side) { self.side = side }
    public var name: String { side == .left ? "MatMulGradientA" : "MatMulGradientB" }
    public func isDifferentiable(input index: Int) -> Bool { true }

    /// The operands promoted to ≥ 2-D as MatMul sees them.
    static func promoted(_ g: Tensor, _ a: Tensor, _ b: Tensor) -> (Tensor, Tensor, Tensor) {
        let a2 = a.rank == 1 ? a.reshaped(to: [1, a.count]) : a
        let b2 = b.rank == 1 ? b.reshaped(to: [b.count, 1]) : b
        var gShape = g.shape
        if a.rank == 1 { gShape.insert(1, at: Swift.max(0, gShape.count - (b.rank == 1 ? 0 : 1))) }
        if b.rank == 1 { gShape.append(1) }
        return (g.reshaped(to: gShape), a2, b2)
    }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let g0 = inputs[0], let a0 = inputs[1], let b0 = inputs[2] else {
            throw CAMError(.invalidModel, "MatMulGradient takes (g, A, B)")
        }
        let (g, a, b) = Self.promoted(g0, a0, b0)
        switch side {
        case .left:
            let full = try MatMul(transposeB: true).forward([g, b])[0]
            return [try sumToShape(full, a.shape).reshaped(to: a0.shape)]
        case .right:
            let full = try MatMul(transposeA: true).forward([a, g])[0]
            return [try sumToShape(full, b.shape).reshaped(to: b0.shape)]
        }
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil, nil] }
        let g = try node.input(0), x = try node.input(1), y = try node.input(2)
        // left:  out = g·Bᵀ (shape of A). Linear in g and in B.
        // right: out = Aᵀ·g (shape of B). Linear in g and in A.
        switch side {
        case .left:
            let dg = node.needsGradient[0] ? b.apply(MatMul(), gg, y) : nil          // d/dg ⟨gg, g·Bᵀ⟩ = gg·B
            let dy = node.needsGradient[2] ? b.apply(MatMulGradient(side: .right), g, gg, y) : nil  // = ggᵀ·g
            return [dg.map { b.reshape(b.unbroadcast($0, like: g), like: g) }, nil, dy]
        case .right:
            let dg = node.needsGradient[0] ? b.apply(MatMul(), x, gg) : nil          // d/dg ⟨gg, Aᵀ·g⟩ = A·gg
            let dx = node.needsGradient[1] ? b.apply(MatMulGradient(side: .left), g, x, gg) : nil   // = g·ggᵀ
            return [dg.map { b.reshape(b.unbroadcast($0, like: g), like: g) }, dx, nil]
        }
    }
}
