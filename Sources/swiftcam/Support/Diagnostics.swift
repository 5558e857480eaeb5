import Foundation

/// Messages for the person at the terminal, on stderr.
enum Diagnostics {
    static func error(_ message: String) { write("swiftcam: error: \(message)") }
    static func warning(_ message: String) { write("swiftcam: warning: \(message)") }
    static func note(_ message: String) { write(message) }

    private static func write(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
