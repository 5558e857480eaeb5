internal import CKernels
import Foundation

/// The elementwise functions of one float argument, each with its first and second
/// derivative, so that gradients of gradients (Hessian–vector products) come for free.
public enum UnaryFunction: Sendable, Equatable {
    case relu
    case leakyRelu(alpha: Float)
    case sigmoid
    case hardSigmoid(alpha: Float, beta: Float)
    case hardSwish
    case tanh
    case exp
    case log
    case neg
    case abs
    case sqrt
    case reciprocal
    case erf
    case gelu
    case geluTanh
    case softplus
    case softsign
    case elu(alpha: Float)
    case selu(alpha: Float, gamma: Float)
    case swish
    case floor
    case ceil
    case round
    case sign

    /// The ONNX-style operator name.
    public var name: String {
        switch self {
        case .relu: return "Relu"
        case .leakyRelu: return "LeakyRelu"
        case .sigmoid: return "Sigmoid"
        case .hardSigmoid: return "HardSigmoid"
        case .hardSwish: return "HardSwish"
        case .tanh: return "Tanh"
        case .exp: return "Exp"
        case .log: return "Log"
        case .neg: return "Neg"
        case .abs: return "Abs"
        case .sqrt: return "Sqrt"
        case .reciprocal: return "Reciprocal"
        case .erf: return "Erf"
        case .gelu, .geluTanh: return "Gelu"
        case .softplus: return "Softplus"
        case .softsign: return "Softsign"
        case .elu: return "Elu"
        case .selu: return "Selu"
        case .swish: return "Swish"
        case .floor: return "Floor"
        case .ceil: return "Ceil"
        case .round: return "Round"
        case .sign: return "Sign"
        }
    }

    /// y = f(x)
    func value(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: return mapFloats(x) { $0 > 0 ? $0 : 0 }
        case .leakyRelu(let a): return mapFloats(x) { $0 > 0 ? $0 : a * $0 }
        case .sigmoid: return mapFloats(x, Self.sigmoid)
        case .hardSigmoid(let a, let b): return mapFloats(x) { Swift.max(0, Swift.min(1, a * $0 + b)) }
        case .hardSwish: return mapFloats(x) { $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) }
        case .tanh: return mapFloats(x) { Foundation.tanh($0) }
        case .exp: return mapFloats(x) { Foundation.exp($0) }
        case .log: return mapFloats(x) { Foundation.log($0) }
        case .neg: return mapFloats(x) { -$0 }
        case .abs: return mapFloats(x) { Swift.abs($0) }
        case .sqrt: return mapFloats(x) { $0.squareRoot() }
        case .reciprocal: return mapFloats(x) { 1 / $0 }
        case .erf: return mapFloats(x) { ck_erf($0, $1, $2) }
        case .gelu: return mapFloats(x) { ck_gelu($0, $1, $2) }
        case .geluTanh: return mapFloats(x) { 0.5 * $0 * (1 + Foundation.tanh(Self.geluK * ($0 + 0.044715 * $0 * $0 * $0))) }
        case .softplus: return mapFloats(x) { $0 > 0 ? $0 + Foundation.log1p(Foundation.exp(-$0)) : Foundation.log1p(Foundation.exp($0)) }
        case .softsign: return mapFloats(x) { $0 / (1 + Swift.abs($0)) }
        case .elu(let a): return mapFloats(x) { $0 > 0 ? $0 : a * (Foundation.exp($0) - 1) }
        case .selu(let a, let g): return mapFloats(x) { $0 > 0 ? g * $0 : g * a * (Foundation.exp($0) - 1) }
        case .swish: return mapFloats(x) { $0 * Self.sigmoid($0) }
        case .floor: return mapFloats(x) { $0.rounded(.down) }
        case .ceil: return mapFloats(x) { $0.rounded(.up) }
        case .round: return mapFloats(x) { $0.rounded(.toNearestOrEven) }
        case .sign: return mapFloats(x) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
        }
    }

    /// g · f'(x)
    func firstDerivative(_ g: Tensor, _ x: Tensor) -> Tensor {
        switch self {
        case .relu: return mapFloats(g, x) { g, x in x > 0 ? g : 0 }
        case .leakyRelu(let a): return mapFloats(g, x) { g, x in x > 0 ? g : a * g }
        case .sigmoid: return mapFloats(g, x) { g, x in let s = Self.sigmoid(x); return g * s * (1 - s) }
        case .hardSigmoid(let a, let b): return mapFloats(g, x) { g, x in let u = a * x + b; return u > 0 && u < 1 ? g * a : 0 }
        case .hardSwish: return mapFloats(g, x) { g, x in x < -3 ? 0 : (x <= 3 ? g * (x / 3 + 0.5) : g) }
        case .tanh: return mapFloats(g, x) { g, x in let t = Foundation.tanh(x); return g * (1 - t * t) }
        case .exp: return mapFloats(g, x) { g, x in g * Foundation.exp(x) }
        case .log: return mapFloats(g, x) { g, x in g / x }
        case .neg: return mapFloats(g, x) { g, _ in -g }
        case .abs: return mapFloats(g, x) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }
        case .sqrt: return mapFloats(g, x) { g, x in g * 0.5 / x.squareRoot() }
        case .reciprocal: return mapFloats(g, x) { g, x in -g / (x * x) }
        case .erf: return mapFloats(g, x) { g, x in g * Self.twoOverSqrtPi * Foundation.exp(-x * x) }
        case .gelu: return mapFloats(g, x) { g, x in g * (Self.normalCDF(x) + x * Self.normalPDF(x)) }
        case .geluTanh: return mapFloats(g, x) { g, x in g * Self.geluTanhDerivatives(x).0 }
        case .softplus: return mapFloats(g, x) { g, x in g * Self.sigmoid(x) }
        case .softsign: return mapFloats(g, x) { g, x in let d = 1 + Swift.abs(x); return g / (d * d) }
        case .elu(let a): return mapFloats(g, x) { g, x in x > 0 ? g : g * a * Foundation.exp(x) }
        case .selu(let a, let gm): return mapFloats(g, x) { g, x in x > 0 ? g * gm : g * gm * a * Foundation.exp(x) }
        case .swish: return mapFloats(g, x) { g, x in let s = Self.sigmoid(x); return g * s * (1 + x * (1 - s)) }
        case .floor, .ceil, .round, .sign: return Tensor(zeros: x.shape)
        }
    }

    /// g · f''(x)
    func secondDerivative(_ g: Tensor, _ x: Tensor) -> Tensor {
        switch self {
        case .relu, .leakyRelu, .hardSigmoid, .neg, .abs, .floor, .ceil, .round, .sign:
            return Tensor(zeros: x.shape)
        case .sigmoid: return mapFloats(g, x) { g, x in let s = Self.sigmoid(x); return g * s * (1 - s) * (1 - 2 * s) }
        case .hardSwish: return mapFloats(g, x) { g, x in x > -3 && x < 3 ? g / 3 : 0 }
        case .tanh: return mapFloats(g, x) { g, x in let t = Foundation.tanh(x); return -2 * g * t * (1 - t * t) }
        case .exp: return mapFloats(g, x) { g, x in g * Foundation.exp(x) }
        case .log: return mapFloats(g, x) { g, x in -g / (x * x) }
        case .sqrt: return mapFloats(g, x) { g, x in -0.25 * g / (x * x.squareRoot()) }
        case .reciprocal: return mapFloats(g, x) { g, x in 2 * g / (x * x * x) }
        case .erf: return mapFloats(g, x) { g, x in -2 * x * g * Self.twoOverSqrtPi * Foundation.exp(-x * x) }
        case .gelu: return mapFloats(g, x) { g, x in g * Self.normalPDF(x) * (2 - x * x) }
        case .geluTanh: return mapFloats(g, x) { g, x in g * Self.geluTanhDerivatives(x).1 }
        case .softplus: return mapFloats(g, x) { g, x in let s = Self.sigmoid(x); return g * s * (1 - s) }
        case .softsign: return mapFloats(g, x) { g, x in let d = 1 + Swift.abs(x); return (x > 0 ? -2 : (x < 0 ? 2 : 0)) * g / (d * d * d) }
        case .elu(let a): return mapFloats(g, x) { g, x in x > 0 ? 0 : g * a * Foundation.exp(x) }
        case .selu(let a, let gm): return mapFloats(g, x) { g, x in x > 0 ? 0 : g * gm * a * Foundation.exp(x) }
        case .swish: return mapFloats(g, x) { g, x in let s = Self.sigmoid(x); return g * s * (1 - s) * (2 + x * (1 - 2 * s)) }
        }
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + Foundation.exp(-x)) : { let e = Foundation.exp(x); return e / (1 + e) }()
    }
    static let twoOverSqrtPi: Float = 1.1283791670955126
    static let geluK: Float = 0.7978845608028654
    @inline(__always) static func normalPDF(_ x: Float) -> Float { 0.3989422804014327 * Foundation.exp(-0.5 * x * x) }
    @inline(__always) static func normalCDF(_ x: Float) -> Float { 0.5 * (1 + Foundation.erf(x * 0.70710678118654752)) }
    /// (y', y'') of the tanh-approximated GELU.
    @inline(__always) static func geluTanhDerivatives(_ x: Float) -> (Float, Float) {
        let c: Float = 0.044715
        let u = geluK * (x + c * x * x * x)
        let t = Foundation.tanh(u)
        let du = geluK * (1 + 3 * c * x * x)
        let ddu = 6 * geluK * c * x
        let sech2 = 1 - t * t
        return (0.5 * (1 + t) + 0.5 * x * sech2 * du, sech2 * (du + 0.5 * x * (ddu - 2 * t * du * du)))
    }
}

/// `y = f(x)` for a `UnaryFunction` (Relu, Sigmoid, Tanh, …).
public struct Unary: Operator {
    public let function: UnaryFunction
    public init(_ function: UnaryFunction) { self.function = function }
    public var name: String { function.name }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "\(name) needs an input") }
        if x.dtype == .int64 {
            switch function {
            case .neg: return [Tensor(shape: x.shape, int64s: x.int64s.map { -$0 })]
            case .abs: return [Tensor(shape: x.shape, int64s: x.int64s.map { Swift.abs($0) })]
            case .relu: return [Tensor(shape: x.shape, int64s: x.int64s.map { Swift.max($0, 0) })]
            case .sign: return [Tensor(shape: x.shape, int64s: x.int64s.map { $0.signum() })]
            default: break
            }
        }
        guard x.dtype == .float32 else { throw CAMError(.unsupported, "\(name) of a \(x.dtype) tensor is not supported") }
        return [function.value(x)]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil] }
        return [b.apply(UnaryDerivative(function, order: 1), g, try node.input(0))]
    }
}

/// `g · f⁽ⁿ⁾(x)` for n = 1, 2: the backward of `Unary`, itself differentiable once more
/// (n = 2 is what a Hessian–vector product needs).
public struct UnaryDerivative: Operator {
    public let function: UnaryFunction
    public let order: Int
    public init(_ function: UnaryFunction, order: Int) {
        self.function = function
        self.order = order
    }
    public var name: String { "\(function.name)Derivative\(order)" }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let g = inputs[0], let x = inputs[1] else { throw CAMError(.invalidModel, "\(name) takes (gradient, x)") }
        guard g.shape == x.shape else { throw CAMError(.runtime, "\(name): gradient \(g.shape) does not match input \(x.shape)") }
        switch order {
        case 1: return [function.firstDerivative(g, x)]
        case 2: return [function.secondDerivative(g, x)]
        default: throw CAMError(.unsupported, "derivative of order \(order) of \(function.name)")
        }
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let gg = node.outputGradient else { return [nil, nil] }
        let g = try node.input(0), x = try node.input(1)
        var dg: ValueID?, dx: ValueID?
        if node.needsGradient[0] { dg = b.apply(UnaryDerivative(function, order: order), gg, x) }
        if node.needsGradient[1] {
            guard order < 2 else { throw CAMError(.unsupported, "third derivatives of \(function.name) are not implemented") }
            dx = b.apply(UnaryDerivative(function, order: order + 1), b.mul(gg, g), x)
        }
        return [dg, dx]
    }
}
