import CAMCore

/// The value of a node attribute (ONNX `AttributeProto`), decoded by its declared type.
///
/// Subgraphs (the bodies of `If`, `Loop`, `Scan`) are not decoded: ``graph(_:)`` and
/// ``graphs(_:)`` only record that the attribute holds one, so the op mapper can refuse the node
/// with a clear error. Attribute kinds SwiftCAM never reads (sparse tensors, type protos) are kept
/// as ``unsupported(_:)`` for the same reason.
public enum ONNXAttribute: Sendable, CustomStringConvertible {
    case float(Float)
    case int(Int64)
    /// A `STRING` attribute, decoded as UTF-8 (invalid bytes become U+FFFD).
    case string(String)
    case tensor(Tensor)
    case floats([Float])
    case ints([Int64])
    case strings([String])
    case tensors([Tensor])
    /// A `GRAPH` attribute (a subgraph, e.g. `If.then_branch`); not decoded.
    case graph(ONNXSubgraphSummary)
    /// A `GRAPHS` attribute; not decoded.
    case graphs([ONNXSubgraphSummary])
    /// An attribute of a kind SwiftCAM does not decode; the payload names it
    /// (`"SPARSE_TENSOR"`, `"SPARSE_TENSORS"`, `"TYPE_PROTO"`, `"TYPE_PROTOS"`).
    case unsupported(String)

    /// The ONNX name of the attribute's type (`FLOAT`, `INTS`, `GRAPH`, …), for error messages.
    public var typeName: String {
        switch self {
        case .float: return "FLOAT"
        case .int: return "INT"
        case .string: return "STRING"
        case .tensor: return "TENSOR"
        case .floats: return "FLOATS"
        case .ints: return "INTS"
        case .strings: return "STRINGS"
        case .tensors: return "TENSORS"
        case .graph: return "GRAPH"
        case .graphs: return "GRAPHS"
        case .unsupported(let kind): return kind
        }
    }

    /// True for `GRAPH` and `GRAPHS` attributes.
    public var isSubgraph: Bool {
        switch self {
        case .graph, .graphs: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .float(let v): return "\(v)"
        case .int(let v): return "\(v)"
        case .string(let v): return "\"\(v)\""
        case .tensor(let t): return "\(t)"
        case .floats(let v): return "\(v)"
        case .ints(let v): return "\(v)"
        case .strings(let v): return "\(v)"
        case .tensors(let v): return "\(v.count) tensors"
        case .graph(let g): return "subgraph \(g)"
        case .graphs(let g): return "\(g.count) subgraphs"
        case .unsupported(let kind): return "\(kind) (not decoded)"
        }
    }
}

/// What is recorded about a subgraph attribute: enough to name it in an error.
public struct ONNXSubgraphSummary: Sendable, Equatable, CustomStringConvertible {
    /// `GraphProto.name` of the subgraph (may be empty).
    public let name: String
    /// Number of nodes directly in the subgraph (not counting deeper subgraphs).
    public let nodeCount: Int

    public init(name: String, nodeCount: Int) {
        self.name = name
        self.nodeCount = nodeCount
    }

    public var description: String { "'\(name)' (\(nodeCount) nodes)" }
}
