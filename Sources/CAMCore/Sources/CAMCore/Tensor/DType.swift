/// Element types the runtime stores. Activations and weights are `float32`; shape arithmetic
/// that exporters leave in graphs runs on `int64`; comparisons produce `bool`.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32
    case int64
    case bool

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32: return 4
        case .int64: return 8
        case .bool: return 1
        }
    }

    public var description: String { rawValue }
}
