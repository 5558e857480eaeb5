/// The type of a graph input, output or `value_info` entry (ONNX `TypeProto`).
///
/// SwiftCAM runs tensors only; the other kinds are kept so the op mapper can refuse a model with
/// an error that says what it found.
public indirect enum ONNXValueType: Sendable, Equatable, CustomStringConvertible {
    /// A dense tensor. `shape` is `nil` when the file gives no shape (unknown rank).
    case tensor(elementType: ONNXElementType, shape: [ONNXDimension]?)
    /// A sparse tensor.
    case sparseTensor(elementType: ONNXElementType, shape: [ONNXDimension]?)
    /// A sequence of values; `nil` element type when the file leaves it out.
    case sequence(ONNXValueType?)
    /// A map from `key` elements to values.
    case map(key: ONNXElementType, value: ONNXValueType?)
    /// An optional value.
    case optional(ONNXValueType?)
    /// An opaque, framework-defined type.
    case opaque(domain: String, name: String)
    /// The file gives no type at all.
    case unspecified

    /// The element type of a dense tensor, else `nil`.
    public var tensorElementType: ONNXElementType? {
        if case .tensor(let t, _) = self { return t }
        return nil
    }

    /// The shape of a dense tensor (`nil` for unknown rank or other kinds).
    public var tensorShape: [ONNXDimension]? {
        if case .tensor(_, let s) = self { return s }
        return nil
    }

    public var description: String {
        func shapeText(_ s: [ONNXDimension]?) -> String {
            guard let s else { return "[unknown rank]" }
            return "[" + s.map(\.description).joined(separator: ", ") + "]"
        }
        switch self {
        case .tensor(let t, let s): return "tensor(\(t))\(shapeText(s))"
        case .sparseTensor(let t, let s): return "sparse_tensor(\(t))\(shapeText(s))"
        case .sequence(let e): return "sequence(\(e.map(\.description) ?? "?"))"
        case .map(let k, let v): return "map(\(k), \(v.map(\.description) ?? "?"))"
        case .optional(let e): return "optional(\(e.map(\.description) ?? "?"))"
        case .opaque(let d, let n): return "opaque(\(d).\(n))"
        case .unspecified: return "unspecified"
        }
    }
}
