import CAMCore
import Dispatch
import Foundation

/// Where a forward pass spends its time, by operator: each node's time is the wall time from
/// its start to the next node's start (or to the end of the pass), summed over repeated passes.
final class OperatorProfile: @unchecked Sendable {
    private var byOperator: [String: Double] = [:]
    private var byNode: [String: Double] = [:]
    private var running: (op: String, label: String, start: UInt64)?
    private var total: Double = 0
    private let lock = NSLock()

    /// Runs `body` (a forward pass), timing every node it executes.
    func record(_ body: () throws -> Void) rethrows {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try ExecutionObserver.observing({ [self] node in mark(node.op.name, node.name.isEmpty ? node.op.name : node.name) }) {
            try body()
        }
        lock.lock()
        defer { lock.unlock() }
        close(at: DispatchTime.now().uptimeNanoseconds)
        total += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    private func mark(_ op: String, _ label: String) {
        lock.lock()
        defer { lock.unlock() }
        let now = DispatchTime.now().uptimeNanoseconds
        close(at: now)
        running = (op, label, now)
    }

    private func close(at now: UInt64) {
        guard let r = running else { return }
        let seconds = Double(now - r.start) / 1e9
        byOperator[r.op, default: 0] += seconds
        byNode[r.label, default: 0] += seconds
        running = nil
    }

    /// How many of the slowest nodes a report lists: 10, or SWIFTCAM_PROFILE_NODES.
    static let listedNodes = Int(ProcessInfo.processInfo.environment["SWIFTCAM_PROFILE_NODES"] ?? "") ?? 10

    /// A table of the operators (and the `nodes` slowest nodes), in ms per image.
    func report(images: Int, nodes: Int = OperatorProfile.listedNodes) -> String {
        lock.lock()
        defer { lock.unlock() }
        let scale = 1000 / Double(Swift.max(images, 1))
        func padded(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
        var lines = ["  " + padded("operator", 28) + "  ms/image   share"]
        for (op, s) in byOperator.sorted(by: { $0.value > $1.value }) {
            lines.append("  " + padded(op, 28) + String(format: "%10.3f %6.1f%%", s * scale, 100 * s / Swift.max(total, 1e-12)))
        }
        lines.append("  slowest nodes:")
        for (label, s) in byNode.sorted(by: { $0.value > $1.value }).prefix(nodes) {
            lines.append("    " + padded(String(label.suffix(50)), 50) + String(format: "%8.3f", s * scale))
        }
        return lines.joined(separator: "\n")
    }
}
