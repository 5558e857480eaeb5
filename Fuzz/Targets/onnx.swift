// libFuzzer target: an ONNX file from bytes, through the parser, the importer and the checks a
// model gets when it is loaded (attribute validation, constant folding, scheduling).
import CAMCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Runtime.setMaxMemory(bytes: 256 << 20)
    guard let model = try? ONNXModelFile.parse(data: Data(bytes: data, count: size), source: "fuzz.onnx"),
          let graph = try? ONNXGraphImporter(model: model).importGraph() else { return 0 }
    _ = try? Model(graph: graph, source: "fuzz.onnx")
    return 0
}
