/// `MatMul(Mul(A, s), Mul(Transpose(B), t))` in one product: the scalars become the GEMM's
/// alpha and the transpose its `transB`, so none of the three is a pass over memory —
/// attention's scores `(q·√scale)·(kᵀ·√scale)` as timm exports them.
/// `GraphOptimizer.fuseScalesIntoMatMuls` writes it.
///
/// Inputs `(A, B, a₁, b₁)`. The left operand is `Mul(A, a₁)` when `scalesLeft`, else A itself;
/// the right one is `Mul(B', b₁)` when `scalesRight`, else B', with B' = `transpose`(B) when a
/// transpose is given (it swaps the last two axes), else B. Each `Mul` was an ordinary
/// broadcasting one: its operands are not known to be scalars until the model runs. When one
/// is not a single value, that `Mul` is computed as before (a Mul whose first operand is the
/// single value, and whose second is the matrix, is recognised too).
public struct ScaledMatMul: Operator {
    public let scalesLeft: Bool
    public let scalesRight: Bool
    /// The swap of the last two axes applied to B, if any.
    public let transpose: Transpose?

    public init(scalesLeft: Bool, scalesRight: Bool, transpose: Transpose?) {
        self.scalesLeft = scalesLeft
        self.scalesRight = scalesRight
        self.transpose = transpose
    }
    public var name: String { "MatMul+Scale" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        let (left, right, alpha, transposed) = try operands(inputs)
        return [try MatMul(transposeB: transposed).product(left, right, alpha: alpha)]
    }

    /// The product's operands with the scales taken out: `alpha · left · right` (rightᵀ when
    /// `rightTransposed`) is the fused value. Scales that are not single values are applied
    /// here, as the Mul nodes would have applied them.
    func operands(_ inputs: [Tensor?]) throws -> (left: Tensor, right: Tensor, alpha: Float, rightTransposed: Bool) {
        guard inputs.count == 4, let a = inputs[0], let b = inputs[1] else {
            throw CAMError(.invalidModel, "\(name) takes (A, B, left scale?, right scale?)")
        }
        var alpha: Float = 1
        var left = a
        if scalesLeft, let s = inputs[2] {
            if let (matrix, factor) = Self.factored(a, s, eitherWay: true) {
                (left, alpha) = (matrix, alpha * factor)
            } else {
                left = try Binary(.mul).forward([a, s])[0]
            }
        }
        var right = b
        var transposed = transpose != nil
        if scalesRight, let s = inputs[3] {
            // With a transpose, B is known to be the matrix: the Mul read the transpose's output.
            if let (matrix, factor) = Self.factored(b, s, eitherWay: transpose == nil) {
                (right, alpha) = (matrix, alpha * factor)
            } else {
                // A scale that broadcasts: the transpose and the Mul as written.
                if let transpose { right = try transpose.forward([b])[0] }
                right = try Binary(.mul).forward([right, s])[0]
                transposed = false
            }
        }
        return (left, right, alpha, transposed)
    }

    /// alpha when each scale given is one float32 value, which scales A or B without changing
    /// its shape, wherever A and B are (attention reading q and k in place); nil otherwise.
    func singleScale(_ left: Tensor?, _ right: Tensor?) -> Float? {
        var alpha: Float = 1
        for (applies, scale) in [(scalesLeft, left), (scalesRight, right)] where applies {
            guard let scale else { continue }
            guard scale.dtype == .float32, scale.count == 1, scale.rank <= 2 else { return nil }
            alpha *= scale.floats[0]
        }
        return alpha
    }

    /// `Mul(x, s)` as a matrix and a factor for alpha, when s is a single float that scales x
    /// without changing its shape (or, `eitherWay`, when x is that value and s the matrix);
    /// nil when the Mul must be computed.
    static func factored(_ x: Tensor, _ s: Tensor, eitherWay: Bool) -> (matrix: Tensor, factor: Float)? {
        func single(_ v: Tensor, scaling m: Tensor) -> Bool {
            v.dtype == .float32 && m.dtype == .float32 && v.count == 1 && v.rank <= m.rank
        }
        if single(s, scaling: x) { return (x, s.floats[0]) }
        if eitherWay && single(x, scaling: s) { return (s, x.floats[0]) }
        return nil
    }

    /// As the nodes it replaced: their intermediate values are recomputed, then each one's
    /// own VJP runs in turn.
    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil, nil, nil] }
        let a = try node.input(0), bb = try node.input(1)
        let sa = scalesLeft ? try node.input(2) : nil, sb = scalesRight ? try node.input(3) : nil
        let needs = node.needsGradient

        let left = sa.map { b.mul(a, $0) } ?? a
        let transposed = transpose.map { b.apply($0, bb) } ?? bb
        let right = sb.map { b.mul(transposed, $0) } ?? transposed

        let product = try MatMul().gradient(&b, GradientNode(
            inputs: [left, right], outputs: node.outputs, outputGradients: [g],
            needsGradient: [needs[0] || needs[2], needs[1] || needs[3]]))

        func throughMul(_ x: ValueID, _ s: ValueID?, _ out: ValueID, _ gradient: ValueID?, _ needX: Bool, _ needS: Bool) throws -> (ValueID?, ValueID?) {
            guard let s else { return (gradient, nil) }
            let grads = try Binary(.mul).gradient(&b, GradientNode(
                inputs: [x, s], outputs: [out], outputGradients: [gradient], needsGradient: [needX, needS]))
            return (grads[0], grads[1])
        }
        let (ga, gsa) = try throughMul(a, sa, left, product[0], needs[0], needs[2])
        let (gt, gsb) = try throughMul(transposed, sb, right, product[1], needs[1], needs[3])
        var gb = gt
        if let transpose, let gt, needs[1] { gb = try transpose.gradient(&b, GradientNode(
            inputs: [bb], outputs: [transposed], outputGradients: [gt], needsGradient: [true]))[0] }
        return [needs[0] ? ga : nil, needs[1] ? gb : nil, gsa, gsb]
    }
}
