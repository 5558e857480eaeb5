import Foundation
internal import CKernels

/// Elementwise arithmetic with NumPy broadcasting: Add, Sub, Mul, Div, Pow, Max, Min.
/// float32 and int64 (shape arithmetic) operands.
public struct Binary: Operator {
    public enum Kind: String, Sendable { case add = "Add", sub = "Sub", mul = "Mul", div = "Div", pow = "Pow", max = "Max", min = "Min" }

    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public var name: String { kind.rawValue }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let a = inputs[0], let b = inputs[1] else {
            throw CAMError(.invalidModel, "\(name) takes two inputs")
        }
        return [try Binary.evaluate(kind, a, b)]
    }

    static func evaluate(_ kind: Kind, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        let shape = try broadcastShape([a.shape, b.shape])
        switch (a.dtype, b.dtype) {
        case (.float32, .float32):
            let out = Tensor(uninitialized: shape)
            let pa = a.floats.baseAddress!, pb = b.floats.baseAddress!, po = out.mutableFloats.baseAddress!
            switch kind {
            case .add: broadcastArithmetic(CK_ADD, pa, a.shape, pb, b.shape, po, shape)
            case .sub: broadcastArithmetic(CK_SUB, pa, a.shape, pb, b.shape, po, shape)
            case .mul: broadcastArithmetic(CK_MUL, pa, a.shape, pb, b.shape, po, shape)
            case .div: broadcastArithmetic(CK_DIV, pa, a.shape, pb, b.shape, po, shape)
            case .pow: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { x, y in y == 2 ? x * x : Foundation.pow(x, y) }
            case .max: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { x, y in x.isNaN || y.isNaN ? .nan : Swift.max(x, y) }
            case .min: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { x, y in x.isNaN || y.isNaN ? .nan : Swift.min(x, y) }
            }
            return out
        case (.int64, .int64):
            let out = Tensor(uninitialized: shape, dtype: .int64)
            let pa = a.int64s.baseAddress!, pb = b.int64s.baseAddress!, po = out.mutableInt64s.baseAddress!
            switch kind {
            case .add: broadcastBinary(pa, a.shape, pb, b.shape, po, shape, &+)
            case .sub: broadcastBinary(pa, a.shape, pb, b.shape, po, shape, &-)
            case .mul: broadcastBinary(pa, a.shape, pb, b.shape, po, shape, &*)
            case .div:
                if b.int64s.contains(0) { throw CAMError(.runtime, "integer division by zero") }
                // ONNX integer Div truncates toward zero, as C does.
                broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { x, y in x / y }
            case .pow: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { x, y in Int64(Foundation.pow(Double(x), Double(y))) }
            case .max: broadcastBinary(pa, a.shape, pb, b.shape, po, shape, Swift.max)
            case .min: broadcastBinary(pa, a.shape, pb, b.shape, po, shape, Swift.min)
            }
            return out
        case (.float32, .int64) where kind == .pow:
            return try evaluate(kind, a, Cast(to: .float32).cast(b))
        case (.int64, .float32) where kind == .pow:
            // ONNX: the result has the base's type.
            return try Cast(to: .int64).cast(evaluate(kind, Cast(to: .float32).cast(a), b))
        default:
            throw CAMError(.unsupported, "\(kind.rawValue) of \(a.dtype) and \(b.dtype) tensors is not supported")
        }
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil] }
        let x = try node.input(0), y = try node.input(1)
        var gx: ValueID?, gy: ValueID?
        switch kind {
        case .add:
            if node.needsGradient[0] { gx = b.unbroadcast(g, like: x) }
            if node.needsGradient[1] { gy = b.unbroadcast(g, like: y) }
        case .sub:
            if node.needsGradient[0] { gx = b.unbroadcast(g, like: x) }
            if node.needsGradient[1] { gy = b.unbroadcast(b.neg(g), like: y) }
        case .mul:
            if node.needsGradient[0] { gx = b.unbroadcast(b.mul(g, y), like: x) }
            if node.needsGradient[1] { gy = b.unbroadcast(b.mul(g, x), like: y) }
        case .div:
            let gOverY = b.div(g, y)
            if node.needsGradient[0] { gx = b.unbroadcast(gOverY, like: x) }
            // d(x/y)/dy = -(x/y)/y
            if node.needsGradient[1] { gy = b.unbroadcast(b.neg(b.mul(gOverY, node.outputs[0])), like: y) }
        case .pow:
            // d(x^y)/dx = y·x^(y-1); d(x^y)/dy = x^y·ln x
            if node.needsGradient[0] {
                let one = b.constant(Tensor(scalar: 1))
                let xPow = b.apply(Binary(.pow), x, b.sub(y, one))
                gx = b.unbroadcast(b.mul(g, b.mul(y, xPow)), like: x)
            }
            if node.needsGradient[1] {
                gy = b.unbroadcast(b.mul(g, b.mul(node.outputs[0], b.apply(Unary(.log), x))), like: y)
            }
        case .max, .min:
            // The gradient goes to the selected operand (to the first one on ties).
            let mask = b.apply(Compare(kind == .max ? .greaterOrEqual : .lessOrEqual), x, y)
            let zero = b.constant(Tensor(scalar: 0))
            if node.needsGradient[0] { gx = b.unbroadcast(b.apply(Where(), mask, g, zero), like: x) }
            if node.needsGradient[1] { gy = b.unbroadcast(b.apply(Where(), mask, zero, g), like: y) }
        }
        return [gx, gy]
    }
}

/// Elementwise comparisons producing `bool`: Equal, Greater, Less, GreaterOrEqual, LessOrEqual.
public struct Compare: Operator {
    public enum Kind: String, Sendable { case equal = "Equal", greater = "Greater", less = "Less", greaterOrEqual = "GreaterOrEqual", lessOrEqual = "LessOrEqual" }

    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public var name: String { kind.rawValue }
    public func isDifferentiable(input index: Int) -> Bool { false }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 2, let a = inputs[0], let b = inputs[1] else {
            throw CAMError(.invalidModel, "\(name) takes two inputs")
        }
        let shape = try broadcastShape([a.shape, b.shape])
        let out = Tensor(uninitialized: shape, dtype: .bool)
        let po = out.mutableBools.baseAddress!
        func run<T: Comparable>(_ pa: UnsafePointer<T>, _ pb: UnsafePointer<T>) {
            switch kind {
            case .equal: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { $0 == $1 ? 1 : 0 }
            case .greater: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { $0 > $1 ? 1 : 0 }
            case .less: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { $0 < $1 ? 1 : 0 }
            case .greaterOrEqual: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { $0 >= $1 ? 1 : 0 }
            case .lessOrEqual: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { $0 <= $1 ? 1 : 0 }
            }
        }
        switch (a.dtype, b.dtype) {
        case (.float32, .float32): run(a.floats.baseAddress!, b.floats.baseAddress!)
        case (.int64, .int64): run(a.int64s.baseAddress!, b.int64s.baseAddress!)
        case (.bool, .bool) where kind == .equal: run(a.bools.baseAddress!, b.bools.baseAddress!)
        default: throw CAMError(.unsupported, "\(name) of \(a.dtype) and \(b.dtype) tensors is not supported")
        }
        return [out]
    }
}

/// Logical And, Or, Xor on bool tensors, and Not.
public struct Logical: Operator {
    public enum Kind: String, Sendable { case and = "And", or = "Or", xor = "Xor", not = "Not" }
    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public var name: String { kind.rawValue }
    public func isDifferentiable(input index: Int) -> Bool { false }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let a = inputs.first ?? nil, a.dtype == .bool else { throw CAMError(.invalidModel, "\(name) needs bool inputs") }
        if kind == .not {
            let out = Tensor(uninitialized: a.shape, dtype: .bool)
            for i in 0..<a.count { out.mutableBools[i] = a.bools[i] == 0 ? 1 : 0 }
            return [out]
        }
        guard inputs.count == 2, let b = inputs[1], b.dtype == .bool else { throw CAMError(.invalidModel, "\(name) needs two bool inputs") }
        let shape = try broadcastShape([a.shape, b.shape])
        let out = Tensor(uninitialized: shape, dtype: .bool)
        let pa = a.bools.baseAddress!, pb = b.bools.baseAddress!, po = out.mutableBools.baseAddress!
        switch kind {
        case .and: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { ($0 != 0 && $1 != 0) ? 1 : 0 }
        case .or: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { ($0 != 0 || $1 != 0) ? 1 : 0 }
        case .xor: broadcastBinary(pa, a.shape, pb, b.shape, po, shape) { (($0 != 0) != ($1 != 0)) ? 1 : 0 }
        case .not: break
        }
        return [out]
    }
}

/// `Where(condition, x, y)`: elementwise selection with broadcasting.
public struct Where: Operator {
    public init() {}
    public var name: String { "Where" }
    public func isDifferentiable(input index: Int) -> Bool { index != 0 }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard inputs.count == 3, let c = inputs[0], let x = inputs[1], let y = inputs[2], c.dtype == .bool, x.dtype == y.dtype else {
            throw CAMError(.invalidModel, "Where takes (bool condition, x, y) with x and y of one dtype")
        }
        let shape = try broadcastShape([c.shape, x.shape, y.shape])
        let out = Tensor(uninitialized: shape, dtype: x.dtype)
        let loop = BroadcastLoop(outShape: shape, operandShapes: [c.shape, x.shape, y.shape])
        let n = loop.innerCount
        let size = x.dtype.size
        let pc = c.bools.baseAddress!
        loop.forEachRun(0..<loop.outerCount) { run, offs in
            let sc = loop.strides[0].last!, sx = loop.strides[1].last!, sy = loop.strides[2].last!
            for i in 0..<n {
                let take = pc[offs[0] + i * sc] != 0
                let src = take ? x.buffer.raw + (offs[1] + i * sx) * size : y.buffer.raw + (offs[2] + i * sy) * size
                (out.buffer.raw + (run * n + i) * size).copyMemory(from: src, byteCount: size)
            }
        }
        return [out]
    }

    public func gradient(_ b: inout GradientBuilder, _ node: GradientNode) throws -> [ValueID?] {
        guard let g = node.outputGradient else { return [nil, nil, nil] }
        let c = try node.input(0), x = try node.input(1), y = try node.input(2)
        let zero = b.constant(Tensor(scalar: 0))
        var gx: ValueID?, gy: ValueID?
        if node.needsGradient[1] { gx = b.unbroadcast(b.apply(Where(), c, g, zero), like: x) }
        if node.needsGradient[2] { gy = b.unbroadcast(b.apply(Where(), c, zero, g), like: y) }
        return [nil, gx, gy]
    }
}
