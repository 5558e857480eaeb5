import CAMCore

/// The main graph of a model (ONNX `GraphProto`), as plain Swift values.
///
/// Graph inputs that also have an initializer are weights in older exports (IR < 4) or
/// overridable defaults; ``inputs`` keeps every declared input, ``realInputs`` only those the
/// caller must feed.
public struct ONNXGraph: Sendable {
    public let name: String
    /// Every `GraphProto.input`, in file order.
    public let inputs: [ONNXValueInfo]
    /// The inputs that have no initializer of the same name: what the caller must provide.
    public let realInputs: [ONNXValueInfo]
    public let outputs: [ONNXValueInfo]
    /// Initializers decoded to runtime tensors, by name.
    public let initializers: [String: Tensor]
    /// Initializer names in file order.
    public let initializerNames: [String]
    /// Nodes in file order (ONNX requires topological order; not checked here).
    public let nodes: [ONNXNode]
    /// `GraphProto.value_info`: types and shapes of intermediate values, when the file has them.
    public let valueInfo: [ONNXValueInfo]

    public init(name: String, inputs: [ONNXValueInfo], realInputs: [ONNXValueInfo],
                outputs: [ONNXValueInfo], initializers: [String: Tensor], initializerNames: [String],
                nodes: [ONNXNode], valueInfo: [ONNXValueInfo]) {
        self.name = name
        self.inputs = inputs
        self.realInputs = realInputs
        self.outputs = outputs
        self.initializers = initializers
        self.initializerNames = initializerNames
        self.nodes = nodes
        self.valueInfo = valueInfo
    }
}
