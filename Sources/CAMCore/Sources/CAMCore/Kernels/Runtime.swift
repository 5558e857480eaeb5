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

    /// The OpenBLAS kernel family in use (e.g. "SkylakeX"), for benchmark reports.
    public static var blasCore: String { OpenBLAS.coreName }
}
