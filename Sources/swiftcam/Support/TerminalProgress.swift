import CAMCore
import Foundation

/// Progress of long methods on stderr: one line redrawn in place on a terminal (done / total,
/// rate, ETA), or a plain line every 10 % otherwise.
final class TerminalProgress: ProgressSink, @unchecked Sendable {
    private let start = Date()
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastPercent = -1
    private var drewLine = false
    private let lock = NSLock()
    private let unit: String

    init(unit: String = "channels") { self.unit = unit }

    func update(done: Int, total: Int, label: String) {
        lock.lock()
        defer { lock.unlock() }
        guard total > 0 else { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let percent = 100 * done / total
        let line = String(format: "%@: %d/%d %@, %.1f/s, ETA %@", label, done, total, unit, rate, Self.duration(eta))
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            drewLine = true
        } else if percent / 10 != lastPercent / 10 || done == total {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        lastPercent = percent
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drewLine { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
