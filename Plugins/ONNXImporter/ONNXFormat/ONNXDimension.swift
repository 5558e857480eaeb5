/// One dimension of a graph input, output or `value_info` shape.
///
/// ONNX lets a dimension be a number (`dim_value`), a name shared by all dimensions that must be
/// equal (`dim_param`, e.g. `"batch"`), or nothing at all.
public enum ONNXDimension: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// A fixed size (`dim_value` ≥ 0).
    case fixed(Int)
    /// A symbolic size (`dim_param`), e.g. `"batch"`.
    case symbolic(String)
    /// Unknown: neither field set, or a negative `dim_value` (Paddle exports write `-1` there).
    case unknown

    /// The size when fixed, else `nil`.
    public var value: Int? {
        if case .fixed(let v) = self { return v }
        return nil
    }

    /// The symbolic name, else `nil`.
    public var symbol: String? {
        if case .symbolic(let s) = self { return s }
        return nil
    }

    public var description: String {
        switch self {
        case .fixed(let v): return String(v)
        case .symbolic(let s): return s
        case .unknown: return "?"
        }
    }
}
