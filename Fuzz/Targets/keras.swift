// libFuzzer target: a Keras .h5 file from bytes (written to a temporary file, read by the
// Keras plugin's HDF5 reader process) through the importer and the load-time checks.
import CAMCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeras(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Runtime.setMaxMemory(bytes: 256 << 20)
    let path = "/tmp/swiftcam-fuzz-\(getpid()).h5"
    guard (try? Data(bytes: data, count: size).write(to: URL(fileURLWithPath: path))) != nil else { return 0 }
    defer { try? FileManager.default.removeItem(atPath: path) }
    if let graph = try? KerasLoader().load(path: path) { _ = try? Model(graph: graph, source: path) }
    return 0
}
