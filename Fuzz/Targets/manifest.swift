// libFuzzer target: the pipeline manifest decoder (JSON → a validated manifest).
import CAMCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let reader = try? JSONReader.parse(Data(bytes: data, count: size), file: "/tmp/fuzz.json") {
        _ = try? PipelineManifest.decode(reader, file: "/tmp/fuzz.json")
    }
    return 0
}
