/// A parsed ONNX model (ONNX `ModelProto`) as plain Swift values, every field validated.
/// Made by ``ONNXModelFile/parse(path:limits:)``.
///
/// ```swift
/// let model = try ONNXModelFile.parse(path: "resnet18.onnx")
/// model.defaultOpset            // 17
/// model.graph.nodes.count       // 49
/// model.graph.realInputs[0].name // "input"
/// ```
public struct ONNXModel: Sendable {
    /// The file (or caller-given source name) the model was read from; errors use it.
    public let source: String
    public let irVersion: Int64
    public let producerName: String
    public let producerVersion: String
    /// `ModelProto.domain` (reverse-DNS name of the model's namespace); often empty.
    public let domain: String
    public let modelVersion: Int64
    /// Operator set versions by domain. The default ONNX domain is stored under `""`, whether the
    /// file names it `""` or `"ai.onnx"`.
    public let opsetImports: [String: Int64]
    /// `ModelProto.metadata_props` (for duplicate keys the last one wins).
    public let metadata: [String: String]
    /// Model-local functions as `"domain:name"`; nodes calling them need the function's body,
    /// which SwiftCAM does not expand.
    public let functions: [String]
    public let graph: ONNXGraph

    public init(source: String, irVersion: Int64, producerName: String, producerVersion: String,
                domain: String, modelVersion: Int64, opsetImports: [String: Int64],
                metadata: [String: String], functions: [String], graph: ONNXGraph) {
        self.source = source
        self.irVersion = irVersion
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.opsetImports = opsetImports
        self.metadata = metadata
        self.functions = functions
        self.graph = graph
    }

    /// The version of the default ONNX operator set (`""` / `"ai.onnx"`), if imported.
    public var defaultOpset: Int64? { opsetImports[""] }

    /// The operator set version for a node's domain (normalised like ``ONNXNode/domain``).
    public func opset(forDomain domain: String) -> Int64? {
        opsetImports[ONNXModel.normalizedDomain(domain)]
    }

    /// `"ai.onnx"` → `""`; other domains unchanged.
    public static func normalizedDomain(_ domain: String) -> String {
        domain == "ai.onnx" ? "" : domain
    }
}
