import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS, opened at run time.
///
/// Why not link it: Debian's OpenBLAS picks its kernels from the CPU it detects when it is
/// loaded, and on virtual machines whose CPU reports a generic model name it falls back to
/// "Prescott" (SSE3) kernels even where AVX-512 is available — measured here: 68 GFLOP/s
/// instead of 323 for a 1024³ sgemm on 2 cores. OpenBLAS honours `OPENBLAS_CORETYPE` only
/// when it initialises, so SwiftCAM sets it from the CPU's flags (unless the user did) and only
/// then opens the library.
enum OpenBLAS {
    typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                      UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
                                      Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias DGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Double,
                                      UnsafePointer<Double>?, Int32, UnsafePointer<Double>?, Int32,
                                      Double, UnsafeMutablePointer<Double>?, Int32) -> Void
    typealias SGEMV = @convention(c) (Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetCoreName = @convention(c) () -> UnsafePointer<CChar>?
    typealias SGESDD = @convention(c) (UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafePointer<Int32>,
                                       UnsafeMutablePointer<Float>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>,
                                       UnsafeMutablePointer<Float>?, UnsafePointer<Int32>, UnsafeMutablePointer<Float>?,
                                       UnsafePointer<Int32>, UnsafeMutablePointer<Float>, UnsafePointer<Int32>,
                                       UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Void

    typealias DSYEV = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafeMutablePointer<Double>,
                                      UnsafePointer<Int32>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>,
                                      UnsafePointer<Int32>, UnsafeMutablePointer<Int32>) -> Void

    /// LAPACK `dpbsv`: symmetric positive definite banded solve (ROAD's imputer).
    typealias DPBSV = @convention(c) (UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>,
                                      UnsafeMutablePointer<Double>, UnsafePointer<Int32>, UnsafeMutablePointer<Double>,
                                      UnsafePointer<Int32>, UnsafeMutablePointer<Int32>) -> Void

    // CBLAS enum values.
    static let rowMajor: Int32 = 101
    static let noTranspose: Int32 = 111
    static let transpose: Int32 = 112

    struct Functions {
        let sgemm: SGEMM
        let sgemv: SGEMV?
        let setThreads: SetThreads?
        let coreName: GetCoreName?
        let sgesdd: SGESDD?
        let dsyev: DSYEV?
        let dpbsv: DPBSV?
        let dgemm: DGEMM?
    }

    /// The library's functions; opening it the first time this is read.
    static let functions: Functions = open()

    /// The OPENBLAS_CORETYPE matching this CPU's vector extensions, if any.
    static func coreType(cpuFlags: Set<String>) -> String? {
        if cpuFlags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    static func cpuFlags() -> Set<String> {
        guard let info = FileContents.text(atPath: "/proc/cpuinfo"),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: ":").last!.split(separator: " ").map(String.init))
    }

    private static func open() -> Functions {
        if getenv("OPENBLAS_CORETYPE") == nil, let core = coreType(cpuFlags: cpuFlags()) {
            setenv("OPENBLAS_CORETYPE", core, 0)
        }
        var handle: UnsafeMutableRawPointer?
        for name in ["libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0"] {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
        }
        guard let handle, let sgemm = dlsym(handle, "cblas_sgemm") else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            FileHandle.standardError.write(Data("swiftcam: error: cannot open OpenBLAS (libopenblas.so.0): \(reason); install libopenblas0 (scripts/setup.sh does)\n".utf8))
            exit(1)
        }
        return Functions(
            sgemm: unsafeBitCast(sgemm, to: SGEMM.self),
            sgemv: dlsym(handle, "cblas_sgemv").map { unsafeBitCast($0, to: SGEMV.self) },
            setThreads: dlsym(handle, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetThreads.self) },
            coreName: dlsym(handle, "openblas_get_corename").map { unsafeBitCast($0, to: GetCoreName.self) },
            sgesdd: dlsym(handle, "sgesdd_").map { unsafeBitCast($0, to: SGESDD.self) },
            dsyev: dlsym(handle, "dsyev_").map { unsafeBitCast($0, to: DSYEV.self) },
            dpbsv: dlsym(handle, "dpbsv_").map { unsafeBitCast($0, to: DPBSV.self) },
            dgemm: dlsym(handle, "cblas_dgemm").map { unsafeBitCast($0, to: DGEMM.self) })
    }

    /// The kernel family OpenBLAS is using ("SkylakeX", "Haswell", …).
    static var coreName: String {
        functions.coreName?().map { String(cString: $0) } ?? "unknown"
    }
}
