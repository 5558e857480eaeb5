import CAMCore
import Foundation
import ONNXProto

/// Reads a serialized `TensorProto` (`.pb`), the format of ONNX's conformance test data
/// (`test_data_set_0/input_0.pb`, `output_0.pb`, …), into a runtime `Tensor`.
///
/// Those folders also hold sequence, optional and map values, serialized as `SequenceProto`,
/// `OptionalProto` or `MapProto`; protobuf would happily misread them as a tensor, so they are
/// recognised and refused with "… is not a TensorProto …".
///
/// ```swift
/// let (name, x) = try ONNXTensorFile.read(path: "test_abs/test_data_set_0/input_0.pb")
/// // name == "x", x.shape == [3, 4, 5]
/// ```
public enum ONNXTensorFile {
    /// Reads the tensor file at `path`; external data is looked up next to it.
    public static func read(path: String, limits: ONNXLimits = .default) throws -> (name: String, tensor: Tensor) {
        let data = try BoundedFileReader.readAll(path: path, maxBytes: limits.maxFileBytes, what: "tensor file")
        return try decode(data: data, source: path, externalDataDirectory: ONNXModelFile.directory(of: path),
                          limits: limits)
    }

    /// Decodes a serialized `TensorProto` held in memory; `source` names it in errors.
    public static func decode(data: Data, source: String, externalDataDirectory: String? = nil,
                              limits: ONNXLimits = .default) throws -> (name: String, tensor: Tensor) {
        guard data.count <= limits.maxFileBytes else {
            throw CAMError(.invalidInput, "\(source) is \(data.count) bytes, over the limit of \(limits.maxFileBytes) bytes")
        }
        return try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws -> (name: String, tensor: Tensor) in
            let headline = "\(source) is not a valid TensorProto file"
            var preflight = ProtobufPreflight(limits: limits, source: source, failureHeadline: headline)
            try preflight.scan(bytes, as: onnx_support_tensor_descriptor())
            if let other = nonTensorName(bytes) {
                throw CAMError(.unsupported, "\(source) is not a TensorProto: it looks like a SequenceProto, OptionalProto"
                    + " or MapProto named '\(other)' (how ONNX test data stores sequence, optional and map values);"
                    + " only tensors can be read")
            }
            guard let message = onnx__tensor_proto__unpack(nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)) else {
                throw CAMError(.invalidInput, "\(headline) (protobuf parse failed)")
            }
            defer { onnx__tensor_proto__free_unpacked(message, nil) }
            let name = cString(message.pointee.name)
            let decoder = ONNXTensorDecoder(source: source, limits: limits,
                                            externalData: ONNXExternalData(baseDirectory: externalDataDirectory))
            let tensor = try decoder.decode(message, label: name.isEmpty ? "tensor" : "tensor '\(name)'")
            return (name, tensor)
        }
    }

    /// The name of the `SequenceProto` / `OptionalProto` / `MapProto` these bytes hold, or `nil`
    /// when they look like a `TensorProto`.
    ///
    /// All three store their name in field 1 as a length-delimited string, where `TensorProto`
    /// has `dims`: proto2 writers (onnx, C++ protobuf) emit `dims` as plain varints, never as a
    /// length-delimited field. So a length-delimited field 1 of printable text, in a message
    /// without `TensorProto.name` (field 8, which the other three do not have), is a name.
    static func nonTensorName(_ bytes: UnsafeRawBufferPointer) -> String? {
        let fields = ProtobufPreflight.topLevelFields(bytes)
        if fields.contains(where: { $0.number == 8 && $0.wireType == 2 }) { return nil }
        guard let first = fields.first(where: { $0.number == 1 && $0.wireType == 2 }),
              let payload = first.payload else { return nil }
        let text = UnsafeRawBufferPointer(rebasing: bytes[payload])
        guard text.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: text, as: UTF8.self)
    }
}
