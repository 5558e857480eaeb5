import CAMCore
import Foundation
import ONNXProto

/// Reads ONNX model files (serialized `ModelProto`) into ``ONNXModel`` values.
///
/// The bytes are first scanned (``ProtobufPreflight``: framing, nesting depth, node count,
/// memory estimate), then unpacked by protobuf-c (`onnx__model_proto__unpack`), converted to
/// Swift values with every field validated, and the C message freed. Errors are `CAMError`s
/// naming the file and the part at fault; a file that is not protobuf (a PNG, a truncated
/// download) gives "… is not a valid ONNX model (protobuf parse failed…)".
///
/// ```swift
/// let model = try ONNXModelFile.parse(path: "/models/resnet18.onnx")
/// let weights = model.graph.initializers["fc.weight"]   // Tensor<float32>[1000, 512]
/// ```
public enum ONNXModelFile {
    /// Reads and parses the model at `path`. External data files are looked up next to it.
    public static func parse(path: String, limits: ONNXLimits = .default) throws -> ONNXModel {
        let data = try BoundedFileReader.readAll(path: path, maxBytes: limits.maxFileBytes, what: "model file")
        return try parse(data: data, source: path, externalDataDirectory: directory(of: path), limits: limits)
    }

    /// Parses a serialized `ModelProto` held in memory. `source` names it in errors;
    /// `externalDataDirectory` is where tensors stored in external files are looked up (`nil`:
    /// such tensors are an error).
    public static func parse(data: Data, source: String, externalDataDirectory: String? = nil,
                             limits: ONNXLimits = .default) throws -> ONNXModel {
        guard data.count <= limits.maxFileBytes else {
            throw CAMError(.invalidModel, "\(source) is \(data.count) bytes, over the limit of \(limits.maxFileBytes) bytes")
        }
        guard !data.isEmpty else {
            throw CAMError(.invalidModel, "\(source) is empty (0 bytes); it is not a valid ONNX model")
        }
        return try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws -> ONNXModel in
            let headline = "\(source) is not a valid ONNX model"
            var preflight = ProtobufPreflight(limits: limits, source: source, failureHeadline: headline)
            try preflight.scan(bytes, as: onnx_support_model_descriptor())
            if !ProtobufPreflight.topLevelFields(bytes).contains(where: { $0.number == 7 && $0.wireType == 2 }) {
                throw CAMError(.invalidModel, "\(headline) (protobuf parse failed: it has no ModelProto.graph field)")
            }
            guard let message = onnx__model_proto__unpack(nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)) else {
                throw CAMError(.invalidModel, "\(headline) (protobuf parse failed)")
            }
            defer { onnx__model_proto__free_unpacked(message, nil) }
            let decoder = ONNXTensorDecoder(source: source, limits: limits,
                                            externalData: ONNXExternalData(baseDirectory: externalDataDirectory))
            return try ModelProtoConverter(source: source, decoder: decoder).model(message)
        }
    }

    /// The folder part of `path` ("." for a bare file name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
