// libFuzzer target: the PNG and JPEG decoders.
import CAMCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? RGBImage.decode(Data(bytes: data, count: size), source: "fuzz-image")
    return 0
}
