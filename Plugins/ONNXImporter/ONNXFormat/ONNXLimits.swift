/// Sanity limits applied while reading an ONNX model or tensor file. Nothing the file says is
/// trusted before it has been checked against these: a size, count or nesting depth over a limit
/// is reported as a `CAMError` naming the file and the limit, never allocated.
///
/// ```swift
/// var limits = ONNXLimits.default
/// limits.maxNodes = 10_000
/// let model = try ONNXModelFile.parse(path: "model.onnx", limits: limits)
/// ```
public struct ONNXLimits: Sendable, Equatable {
    /// Largest model or `.pb` file read, in bytes. Protobuf messages cannot exceed 2 GiB, which
    /// is why larger ONNX models keep their weights in external data files.
    public var maxFileBytes: Int = Int(Int32.max)

    /// Most `NodeProto`s in a model, counting nodes inside subgraphs (If/Loop bodies) and local
    /// functions.
    public var maxNodes: Int = 1_000_000

    /// Most elements in one tensor (2^31).
    public var maxTensorElements: Int = 1 << 31

    /// Most dimensions of one tensor.
    public var maxTensorRank: Int = 64

    /// Deepest nesting of protobuf messages (model → graph → node → attribute → graph → …).
    /// protobuf-c parses nested messages recursively, so this bounds its stack use.
    public var maxNestingDepth: Int = 100

    /// Upper bound on the memory protobuf-c may allocate to unpack the file, estimated by a scan
    /// of the wire format before unpacking.
    public var maxUnpackedBytes: Int = 8 << 30

    /// The default limits.
    public static let `default` = ONNXLimits()

    public init() {}
}
