internal import CKernels

/// `MatMul(Softmax(scores), V)`, the scores a `ScaledMatMul(q, k, …)`: a transformer's
/// attention, one pass per head. On CPUs with AVX-512, each block of 32
/// rows of a head's scores is computed, normalised and multiplied by V while it is in L1
/// (`ck_attention_head`), so the n × n scores never go to memory; with the same values as the
/// three operators run one after another. Elsewhere, or in double accumulation, it runs them so.
/// `GraphOptimizer.fuseAttention` writes it.
///
/// Inputs `(q, k, v, q scale, k scale)`: ScaledMatMul's `(A, B, a₁, b₁)`, with V third.
public struct Attention: Operator {
    /// How the scores are formed from q, k and the scales.
    public let scores: ScaledMatMul
    /// The softmax's axis, as the model gives it; the fused kernel runs when it is the last one.
    public let softmaxAxis: Int

    public init(scores: ScaledMatMul, softmaxAxis: Int = -1) {
        self.scores = scores
        self.softmaxAxis = softmaxAxis
    }
    public var name: String { "Attention" }

    /// Rows of a head's scores per share when there are too few heads to share among the threads
    /// (at batch 1): at least the C kernel's block.
    static let rowsPerShare = 32

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 5, let v = inputs[2] else {
            throw CAMError(.invalidModel, "\(name) takes (q, k, v, q scale?, k scale?)")
        }
        let (left, right, alpha, transposed) = try scores.operands([inputs[0], inputs[1], inputs[3], inputs[4]])
        if let out = try fused(left, right, alpha: alpha, keysAsRows: transposed, v) { return [out] }
        let s = try MatMul(transposeB: transposed).product(left, right, alpha: alpha)
        let p = try Softmax(axis: softmaxAxis).forward([s])[0]
        return try MatMul().forward([p, v])
    }

    /// The fused kernel's result, or nil where it does not apply (no AVX-512, double accumulation,
    /// operands that are not batches of matrices of matching sizes: the unfused path then
    /// computes them, or reports what is wrong).
    private func fused(_ q: Tensor, _ k: Tensor, alpha: Float, keysAsRows: Bool, _ v: Tensor) throws -> Tensor? {
        guard ck_gemm_packed_available() != 0, Runtime.gemmAccumulation == .single,
              [q, k, v].allSatisfy({ $0.dtype == .float32 && $0.rank >= 2 }) else { return nil }
        let nq = q.shape[q.rank - 2], d = q.shape[q.rank - 1]
        let (nk, dk) = keysAsRows ? (k.shape[k.rank - 2], k.shape[k.rank - 1]) : (k.shape[k.rank - 1], k.shape[k.rank - 2])
        let dv = v.shape[v.rank - 1]
        guard dk == d, v.shape[v.rank - 2] == nk, [nq, nk, d, dv].allSatisfy({ $0 <= Int(Int32.max) }),
              let items = try? BatchedMatrices([q, k, v].map { Array($0.shape.dropLast(2)) }),
              softmaxAxis == -1 || softmaxAxis == items.batch.count + 1 else { return nil }
        let out = Tensor(uninitialized: try checkedShape(items.batch + [nq, dv], name))
        let pq = q.floats.baseAddress!, pk = k.floats.baseAddress!, pv = v.floats.baseAddress!, po = out.mutableFloats.baseAddress!
        let ldk = k.shape[k.rank - 1]
        // Whole heads per thread; at batch 1 (3 heads on 2 threads), heads cut in bands of rows too.
        let threads = Runtime.threadCount
        let bands = items.count >= 2 * threads ? 1
            : Swift.max(1, Swift.min((nq + Self.rowsPerShare - 1) / Self.rowsPerShare, (2 * threads + items.count - 1) / Swift.max(1, items.count)))
        let bandRows = (nq + bands - 1) / bands
        parallelFor(items.count * bands, grain: 1) { range in
            for task in range {
                let i = task / bands, first = task % bands * bandRows
                let rows = Swift.min(bandRows, nq - first)
                guard rows > 0 else { continue }
                let status = ck_attention_head(
                    pq + items.matrix(0, of: i) * nq * d + first * d, d, pk + items.matrix(1, of: i) * nk * d, ldk, keysAsRows ? 0 : 1,
                    pv + items.matrix(2, of: i) * nk * dv, dv, Int32(rows), Int32(nk), Int32(d), Int32(dv), alpha,
                    po + (i * nq + first) * dv, dv)
                // The kernel's one failure on this CPU is its scratch (a few hundred KB) not being allocated.
                precondition(status == 0, "out of memory in attention (\(status))")
            }
        }
        withExtendedLifetime((q, k, v)) {}
        return out
    }

    /// As the nodes it replaced: the scores and their softmax are recomputed, then each one's
    /// own VJP runs in turn.
    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return node.inputs.map { _ in nil } }
        let q = try node.input(0), k = try node.input(1), v = try node.input(2)
        let needs = node.needsGradient
        let scoreInputs = [q, k, node.inputs[3], node.inputs[4]]
        let s = b.apply(scores, scoreInputs, outputs: 1)[0]
        let p = b.apply(Softmax(axis: softmaxAxis), s)
        let needsScores = needs[0] || needs[1] || needs[3] || needs[4]
        let product = try MatMul().gradient(&b, GradientNode(
            inputs: [p, v], outputs: node.outputs, outputGradients: [g], needsGradient: [needsScores, needs[2]]))
        guard needsScores else { return [nil, nil, product[1], nil, nil] }
        let normalised = try Softmax(axis: softmaxAxis).gradient(&b, GradientNode(
            inputs: [s], outputs: [p], outputGradients: [product[0]], needsGradient: [true]))
        let fromScores = try scores.gradient(&b, GradientNode(
            inputs: scoreInputs, outputs: [s], outputGradients: [normalised[0]], needsGradient: [needs[0], needs[1], needs[3], needs[4]]))
        return [fromScores[0], fromScores[1], product[1], fromScores[2], fromScores[3]]
    }
}
