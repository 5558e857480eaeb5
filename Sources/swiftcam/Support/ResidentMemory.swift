import Foundation
import CAMCore

/// This process's resident memory, from `/proc/self/status` (Linux).
enum ResidentMemory {
    /// Resident set size now, in bytes (`VmRSS`).
    static var current: Int { field("VmRSS:") }

    /// The highest resident set size so far, in bytes (`VmHWM`).
    static var peak: Int { field("VmHWM:") }

    static func field(_ name: String) -> Int {
        guard let text = FileContents.text(atPath: "/proc/self/status"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        // "VmRSS:\t  123456 kB": the kernel separates with a tab and pads with spaces.
        let kib = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
        return kib * 1024
    }
}
