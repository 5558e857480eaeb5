import Foundation

/// Whole files read through a `FileHandle`, the one way SwiftCAM reads a file into memory.
/// (Not `FileManager.contents(atPath:)` or `String(contentsOfFile:)`: Foundation's reader sizes
/// its buffer by the file's reported size and keeps — leaks — its first buffer when that size
/// is 0, as it is for empty files and every file in /proc.)
public enum FileContents {
    /// The bytes of the file at `path`; nil if it cannot be opened or read (a folder, say).
    public static func data(atPath path: String) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.readToEnd()).map { $0 ?? Data() }
    }

    /// The file's text; nil if it cannot be read or is not UTF-8.
    public static func text(atPath path: String) -> String? {
        data(atPath: path).flatMap { String(data: $0, encoding: .utf8) }
    }
}
