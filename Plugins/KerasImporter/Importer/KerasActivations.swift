import CAMCore
import KerasFormat

/// Keras activations by name (the `activation` of Activation, Conv2D, Dense, …).
extension LayerCall {
    /// The activations SwiftCAM implements.
    static let activationNames = ["linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "log_softmax", "tanh",
                                  "swish", "silu", "elu", "selu", "gelu", "softplus", "softsign", "exponential", "leaky_relu",
                                  "hard_silu", "hard_swish", "mish", "hard_tanh", "log_sigmoid", "tanh_shrink"]

    /// The activation's name from a config value: a string, or a serialized function
    /// (`{"class_name": "function", "config": "relu"}` in Keras 3).
    func activationName(_ key: String = "activation") throws -> String {
        guard let v = value(key) else { return "linear" }
        if let s = v.string { return s }
        if let s = v["config"]?.string { return s }
        if let s = v["config"]?["name"]?.string { return s }
        if let s = v["class_name"]?.string, s != "function" { return s }
        throw CAMError(.unsupported, "config '\(key)' is \(v.brief); expected an activation name")
    }

    /// Emits `op` and then the layer's `activation`, the last node named after the layer.
    func finish(_ op: any Operator, _ ins: [ValueID?], shape: [Int?], activation: String) throws -> KTensor {
        if activation == "linear" { return try finish(op, ins, shape: shape) }
        guard Self.activationNames.contains(activation) else { throw unknownActivation(activation) }
        let x = emit(op, ins, op.name.lowercased())
        return try finishActivation(activation, x, shape: shape)
    }

    func unknownActivation(_ name: String) -> CAMError {
        CAMError(.unsupported, "activation '\(name)' is not supported (supported: \(Self.activationNames.joined(separator: ", ")))")
    }

    /// Emits activation `name` on `x` as the layer's final node(s).
    func finishActivation(_ name: String, _ x: ValueID, shape: [Int?]) throws -> KTensor {
        let lastAxis = shape.count >= 3 ? 1 : -1
        func unary(_ f: UnaryFunction) throws -> KTensor { try finish(Unary(f), [x], shape: shape) }
        switch name {
        case "linear": return try finish(Identity(), [x], shape: shape)
        case "relu": return try unary(.relu)
        case "relu6": return try finish(Clip(), [x, scalar(0, "min"), scalar(6, "max")], shape: shape)
        case "hard_tanh": return try finish(Clip(), [x, scalar(-1, "min"), scalar(1, "max")], shape: shape)
        case "sigmoid": return try unary(.sigmoid)
        // Keras 3: relu6(x + 3) / 6; Keras 2: clip(0.2·x + 0.5, 0, 1).
        case "hard_sigmoid": return try unary(.hardSigmoid(alpha: kerasMajorVersion >= 3 ? 1.0 / 6.0 : 0.2, beta: 0.5))
        case "softmax": return try finish(Softmax(axis: lastAxis), [x], shape: shape)
        case "log_softmax": return try finish(Softmax(axis: lastAxis, log: true), [x], shape: shape)
        case "tanh": return try unary(.tanh)
        case "swish", "silu": return try unary(.swish)
        case "elu": return try unary(.elu(alpha: 1))
        case "selu": return try unary(.selu(alpha: 1.6732632423543772, gamma: 1.0507009873554805))
        case "gelu": return try unary(.gelu)
        case "softplus": return try unary(.softplus)
        case "softsign": return try unary(.softsign)
        case "exponential": return try unary(.exp)
        case "leaky_relu": return try unary(.leakyRelu(alpha: 0.2))
        case "hard_silu", "hard_swish": return try unary(.hardSwish)
        case "mish":
            let t = emit(Unary(.tanh), [emit(Unary(.softplus), [x], "softplus")], "tanh")
            return try finish(Binary(.mul), [x, t], shape: shape)
        case "log_sigmoid":
            let s = emit(Unary(.softplus), [emit(Unary(.neg), [x], "neg")], "softplus")
            return try finish(Unary(.neg), [s], shape: shape)
        case "tanh_shrink":
            return try finish(Binary(.sub), [x, emit(Unary(.tanh), [x], "tanh")], shape: shape)
        default:
            throw unknownActivation(name)
        }
    }
}
