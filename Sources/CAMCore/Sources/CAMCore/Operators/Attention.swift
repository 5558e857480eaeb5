internal import CKernels

/// `MatMul(Softmax(scores), V)`, the scores a `ScaledMatMul(q, k, …)`: a transformer's
/// attention, one pass per head. On CPUs with AVX-512, each block of 32 rows of a head's scores
/// is computed, normalised and multiplied by V while it is in L1 (`ck_attention_head`), so the
/// n × n scores never go to memory; with the same values as the three operators run one after
/// another. Elsewhere, or in double accumulation, it runs them so.
/// `GraphOptimizer.fuseAttention` writes it, and may then let it read q, k and v where the qkv
/// projection wrote them (`packed`) and write its result as the transpose after it reads it
/// (`tokensMajor`), so that neither transposed copy is made.
///
/// Inputs `(q, k, v, q scale, k scale)`: ScaledMatMul's `(A, B, a₁, b₁)`, with V third; or,
/// when `packed`, `(x, split sizes, nil, q scale, k scale)`; then, with `scoresScale`, the value
/// the scores are multiplied or divided by.
public struct Attention: Operator {
    /// How the scores are formed from q, k and the scales.
    public let scores: ScaledMatMul
    /// The softmax's axis, as the model gives it; the fused kernel runs when it is the last one.
    public let softmaxAxis: Int
    /// Where q, k and v are, when they are pieces of one tensor; nil when they are inputs 0–2.
    public let packed: PackedQKV?
    /// Whether the result is written with its head and row axes swapped, (…, N, H, dv) rather
    /// than (…, H, N, dv): the `Transpose` that follows attention, folded in.
    public let tokensMajor: Bool
    /// `.mul` or `.div` when the scores are multiplied or divided by a value (input 5) before
    /// the softmax, as Hugging Face's ViT (`scores / √d`) and older timm (`(q·kᵀ) · scale`)
    /// export it; nil when they are not. A single value joins the kernel's alpha: a divisor as
    /// its reciprocal, so those scores may differ from the division's in their last bit.
    public let scoresScale: Binary.Kind?

    public init(scores: ScaledMatMul, softmaxAxis: Int = -1, packed: PackedQKV? = nil, tokensMajor: Bool = false,
                scoresScale: Binary.Kind? = nil) {
        self.scores = scores
        self.softmaxAxis = softmaxAxis
        self.packed = packed
        self.tokensMajor = tokensMajor
        self.scoresScale = scoresScale
    }
    public var name: String { "Attention" }
    public func isDifferentiable(input index: Int) -> Bool { packed == nil || index != 1 }

    /// This attention reading its operands from `packed`, or writing tokens major.
    func with(packed: PackedQKV?, tokensMajor: Bool) -> Attention {
        Attention(scores: scores, softmaxAxis: softmaxAxis, packed: packed, tokensMajor: tokensMajor, scoresScale: scoresScale)
    }

    /// The factor the scores' scale adds to alpha: 1 without one, nil when it is not one value.
    private func scoresFactor(_ inputs: [Tensor?]) -> Float? {
        guard let kind = scoresScale else { return 1 }
        guard inputs.count > 5, let c = inputs[5], c.dtype == .float32, c.count == 1, c.rank <= 2 else { return nil }
        return kind == .mul ? c.floats[0] : 1 / c.floats[0]
    }

    /// Rows of a head's scores per share when there are too few heads to share among the threads
    /// (at batch 1): at least the C kernel's block.
    static let rowsPerShare = 32

    /// The transpose `tokensMajor` stands for, (B, H, N, dv) → (B, N, H, dv).
    public static let headsAndRowsSwapped = Transpose(perm: [0, 2, 1, 3])

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == (scoresScale == nil ? 5 : 6) else {
            throw CAMError(.invalidModel, "\(name) takes (q, k, v, q scale?, k scale?\(scoresScale == nil ? "" : ", scores scale"))")
        }
        let factor = scoresFactor(inputs)
        if let packed, let x = inputs[0], let views = try packed.views(of: x, sizes: inputs[1]),
           let alpha = scores.singleScale(inputs[3], inputs[4]), let factor,
           let out = try fused(views.q, views.k, alpha: alpha * factor, keysAsRows: scores.transpose != nil, views.v) {
            return [out]
        }
        let (q, k, v) = try separateOperands(inputs)
        let (left, right, alpha, transposed) = try scores.operands([q, k, inputs[3], inputs[4]])
        if left.rank >= 2, right.rank >= 2, v.rank >= 2, let factor,
           let out = try fused(MatrixStack(left), MatrixStack(right), alpha: alpha * factor, keysAsRows: transposed, MatrixStack(v)) {
            return [out]
        }
        var s = try MatMul(transposeB: transposed).product(left, right, alpha: alpha)
        if let kind = scoresScale, let c = inputs[5] { s = try Binary(kind).forward([s, c])[0] }
        let p = try Softmax(axis: softmaxAxis).forward([s])[0]
        let y = try MatMul().forward([p, v])[0]
        return tokensMajor ? try Self.headsAndRowsSwapped.forward([y]) : [y]
    }

    /// q, k and v as tensors of their own: inputs 0–2, or the pieces of the packed input.
    private func separateOperands(_ inputs: [Tensor?]) throws -> (Tensor, Tensor, Tensor) {
        if let packed {
            guard let x = inputs[0] else { throw CAMError(.invalidModel, "\(name) needs the packed q, k and v") }
            let pieces = try packed.pieces(of: x, sizes: inputs[1])
            return (pieces[0], pieces[1], pieces[2])
        }
        guard let q = inputs[0], let k = inputs[1], let v = inputs[2] else {
            throw CAMError(.invalidModel, "\(name) takes (q, k, v, q scale?, k scale?)")
        }
        return (q, k, v)
    }

    /// The fused kernel's result, or nil where it does not apply (no AVX-512, double accumulation,
    /// operands that are not batches of matrices of matching sizes: the unfused path then
    /// computes them, or reports what is wrong).
    private func fused(_ q: MatrixStack, _ k: MatrixStack, alpha: Float, keysAsRows: Bool, _ v: MatrixStack) throws -> Tensor? {
        guard ck_gemm_packed_available() != 0, Runtime.gemmAccumulation == .single,
              [q, k, v].allSatisfy({ $0.tensor.dtype == .float32 }) else { return nil }
        let nq = q.rows, d = q.columns
        let (nk, dk) = keysAsRows ? (k.rows, k.columns) : (k.columns, k.rows)
        let dv = v.columns
        guard dk == d, v.rows == nk, [nq, nk, d, dv].allSatisfy({ $0 <= Int(Int32.max) }),
              let items = try? BatchedMatrices([q, k, v]),
              softmaxAxis == -1 || softmaxAxis == items.batch.count + 1, !tokensMajor || items.batch.count == 2 else { return nil }
        // The result, (…, H, N, dv) or, tokens major, (…, N, H, dv): item i's row r starts at
        // rowStart(i) + r · ldo.
        let heads = tokensMajor ? items.batch.last! : 1
        let shape = tokensMajor ? items.batch.dropLast() + [nq, heads, dv] : items.batch + [nq, dv]
        let ldo = heads * dv
        func rowStart(_ i: Int) -> Int { i / heads * nq * heads * dv + i % heads * dv }
        let out = Tensor(uninitialized: try checkedShape(shape, name))
        let pq = q.floats, pk = k.floats, pv = v.floats, po = out.mutableFloats.baseAddress!
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
                    pq + items.offset(0, of: i) + first * q.rowPitch, q.rowPitch, pk + items.offset(1, of: i), k.rowPitch, keysAsRows ? 0 : 1,
                    pv + items.offset(2, of: i), v.rowPitch, Int32(rows), Int32(nk), Int32(d), Int32(dv), alpha,
                    po + rowStart(i) + first * ldo, ldo)
                // The kernel's one failure on this CPU is its scratch (a few hundred KB) not being allocated.
                precondition(status == 0, "out of memory in attention (\(status))")
            }
        }
        withExtendedLifetime((q, k, v)) {}
        return out
    }

    /// As the nodes it replaced: the pieces of the packed input, the scores and their softmax
    /// are recomputed, then each one's own VJP runs in turn.
    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard var g = node.outputGradient else { return node.inputs.map { _ in nil } }
        // Before the folded transpose, the gradient is the same swap of axes (its own inverse).
        if tokensMajor { g = b.apply(Self.headsAndRowsSwapped, g) }
        let needs = node.needsGradient
        let q: ValueID, k: ValueID, v: ValueID
        var pieces: [ValueID] = []
        if let packed {
            (pieces, q, k, v) = packed.emitPieces(&b, node.inputs[0], sizes: node.inputs[1])
        } else {
            (q, k, v) = (try node.input(0), try node.input(1), try node.input(2))
        }
        // With packed operands, q, k and v all need a gradient when x does.
        let (needQ, needK, needV) = packed == nil ? (needs[0], needs[1], needs[2]) : (needs[0], needs[0], needs[0])
        let scoreInputs = [q, k, node.inputs[3], node.inputs[4]]
        let s = b.apply(scores, scoreInputs, outputs: 1)[0]
        let scale = scoresScale.map { ($0, node.inputs[5]) }
        let scaled = scale.map { b.apply(Binary($0.0), s, $0.1) } ?? s
        let p = b.apply(Softmax(axis: softmaxAxis), scaled)
        let needsScale = scale != nil && needs[5]
        let needsScores = needQ || needK || needs[3] || needs[4] || needsScale
        let product = try MatMul().gradient(&b, GradientNode(
            inputs: [p, v], outputs: node.outputs, outputGradients: [g], needsGradient: [needsScores, needV]))
        var fromScores: [ValueID?] = [nil, nil, nil, nil]
        var fromScale: ValueID?
        if needsScores {
            var gs = try Softmax(axis: softmaxAxis).gradient(&b, GradientNode(
                inputs: [scaled], outputs: [p], outputGradients: [product[0]], needsGradient: [true]))[0]
            if let (kind, c) = scale {
                let both = try Binary(kind).gradient(&b, GradientNode(
                    inputs: [s, c], outputs: [scaled], outputGradients: [gs], needsGradient: [true, needsScale]))
                (gs, fromScale) = (both[0], both[1])
            }
            fromScores = try scores.gradient(&b, GradientNode(
                inputs: scoreInputs, outputs: [s], outputGradients: [gs], needsGradient: [needQ, needK, needs[3], needs[4]]))
        }
        let tail: [ValueID?] = scale == nil ? [] : [fromScale]
        guard let packed else { return [fromScores[0], fromScores[1], product[1], fromScores[2], fromScores[3]] + tail }
        let x = needs[0] ? try packed.gradient(&b, node.inputs[0], sizes: node.inputs[1], pieces: pieces,
                                               q: fromScores[0], k: fromScores[1], v: product[1]) : nil
        return [x, nil, nil, fromScores[2], fromScores[3]] + tail
    }
}
