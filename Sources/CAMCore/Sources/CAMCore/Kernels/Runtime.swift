import Foundation

/// Process-wide runtime settings.
public enum Runtime {
    nonisolated(unsafe) private static var threads: Int = {
        // OpenBLAS runs single-threaded; `sgemm` splits work across the runtime's threads.
        OpenBLAS.functions.setThreads?(1)
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    /// Threads used by BLAS and by the runtime's own parallel kernels.
    public static var threadCount: Int { threads }

    /// Sets the number of threads for BLAS and the runtime's kernels (at least 1).
    public static func setThreadCount(_ n: Int) {
        threads = max(1, n)
    }

    /// How matrix products and depthwise convolutions accumulate: in float32 (`cblas_sgemm` and
    /// vector kernels) or in double (`cblas_dgemm` on the float32 operands, the result rounded
    /// once to float32) — 2–3.5× slower, and far less rounding in deep networks.
    public enum Accumulation: String, Sendable { case single, double }

    /// The accumulation the user asked for (`--gemm-accumulation`, or `SWIFTCAM_GEMM` at
    /// start-up); `nil`: each method's own (`CAMRequirements.accumulation`), else single.
    nonisolated(unsafe) public static var requestedAccumulation: Accumulation? =
        ProcessInfo.processInfo.environment["SWIFTCAM_GEMM"].flatMap(Accumulation.init(rawValue:))

    /// The accumulation of the work running on this thread: the one `withAccumulation` set
    /// around it, else the requested one, else single.
    public static var gemmAccumulation: Accumulation { scopedAccumulation ?? requestedAccumulation ?? .single }

    @TaskLocal static var scopedAccumulation: Accumulation?

    /// Runs `body` with products accumulated as `accumulation` (`nil`: unchanged), on this
    /// thread and on the runtime's worker threads it fans out to — not process-wide, so
    /// explanations running side by side keep their own.
    public static func withAccumulation<R>(_ accumulation: Accumulation?, _ body: () throws -> R) rethrows -> R {
        guard let accumulation else { return try body() }
        return try $scopedAccumulation.withValue(accumulation, operation: body)
    }

    /// Runs a worker thread's share of a parallel loop under the accumulation of the thread
    /// that started the loop (`scoped`, read there): task-local values do not cross into
    /// Dispatch's workers by themselves.
    @inline(__always)
    static func inheriting(_ scoped: Accumulation?, _ body: () -> Void) {
        if let scoped { $scopedAccumulation.withValue(scoped, operation: body) } else { body() }
    }

    /// How 3×3, stride-1 convolutions (and their input gradients) are computed: by Winograd
    /// F(4×4, 3×3) where there are enough tiles, else F(2×2, 3×3) — 4× and 2.25× fewer
    /// multiplications, the default; by F(2×2, 3×3) only (`winograd2`), whose transforms round
    /// like a direct convolution; or by im2col and one GEMM, like every other convolution.
    /// `SWIFTCAM_CONV=winograd2|im2col` sets it at start-up.
    public enum ConvolutionAlgorithm: String, Sendable, CaseIterable { case winograd, winograd2, im2col }

    /// The algorithm for the work running on this thread: the one `withConvolutionAlgorithm`
    /// set around it, else the process-wide one.
    public static var convolutionAlgorithm: ConvolutionAlgorithm { scopedConvolutionAlgorithm ?? processConvolutionAlgorithm }

    /// The process-wide algorithm: `SWIFTCAM_CONV` at start-up, else `winograd`.
    nonisolated(unsafe) public static var processConvolutionAlgorithm: ConvolutionAlgorithm =
        ProcessInfo.processInfo.environment["SWIFTCAM_CONV"].flatMap(ConvolutionAlgorithm.init(rawValue:)) ?? .winograd

    @TaskLocal static var scopedConvolutionAlgorithm: ConvolutionAlgorithm?

    /// Runs `body` with 3×3 convolutions computed by `algorithm`, on this thread only (the
    /// choice is made before work fans out to the runtime's workers).
    public static func withConvolutionAlgorithm<R>(_ algorithm: ConvolutionAlgorithm, _ body: () throws -> R) rethrows -> R {
        try $scopedConvolutionAlgorithm.withValue(algorithm, operation: body)
    }

    nonisolated(unsafe) private static var memoryLimit: Int = {
        // Default: three quarters of the machine's memory.
        Int(Double(ProcessInfo.processInfo.physicalMemory) * 0.75)
    }()

    /// The largest single tensor allocation allowed, in bytes; sizes computed from a model
    /// file (shapes, pads, repeats) are checked against it before anything is allocated.
    public static var maxMemory: Int { memoryLimit }

    public static func setMaxMemory(bytes: Int) { memoryLimit = max(1 << 20, bytes) }

    /// Throws if `elements` float32 values exceed `maxMemory`; `what` (named in the error) is
    /// built only then.
    public static func checkAllocation(elements: Int, what: @autoclosure () -> String) throws {
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: 4)
        guard !overflow, bytes <= memoryLimit else {
            throw CAMError(.runtime, "\(what()) would need \(overflow ? "more than 2^63 bytes" : Self.gib(bytes)), over the memory limit of \(Self.gib(memoryLimit)) (raise it with --max-memory)")
        }
    }

    static func gib(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) }

    /// The OpenBLAS kernel family in use (e.g. "SkylakeX"), for benchmark reports.
    public static var blasCore: String { OpenBLAS.coreName }
}
