internal import CBLAS
import Foundation

/// Process-wide runtime settings.
public enum Runtime {
    nonisolated(unsafe) private static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Threads used by BLAS and by the runtime's own parallel kernels.
    public static var threadCount: Int { threads }

    /// Sets the number of threads for BLAS and the runtime's kernels (at least 1).
    public static func setThreadCount(_ n: Int) {
        threads = max(1, n)
        openblas_set_num_threads(Int32(threads))
    }
}
