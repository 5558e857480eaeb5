import CAMCore
import ONNXFormat

/// The `ModelLoader` for `.onnx` files: parse with protobuf-c, validate, import.
final class ONNXLoader: ModelLoader {
    let name = "onnx"
    let fileExtensions = ["onnx"]

    /// A serialized ModelProto starts with field 1 (ir_version, a varint): byte 0x08.
    func recognizes(header: [UInt8]) -> Bool { header.first == 0x08 }

    func load(path: String) throws -> Graph {
        let model = try ONNXModelFile.parse(path: path)
        return try ONNXGraphImporter(model: model).importGraph()
    }

    func readTensor(path: String) throws -> (name: String, tensor: Tensor) {
        try ONNXTensorFile.read(path: path)
    }
}
