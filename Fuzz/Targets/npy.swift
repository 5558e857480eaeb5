// libFuzzer target: the .npy reader.
import CAMCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? NPY.decode(Data(bytes: data, count: size), source: "fuzz.npy")
    return 0
}
