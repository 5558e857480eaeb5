import Foundation

/// FNV-1a, 64 bits: a fast content fingerprint for deciding whether outputs are up to date
/// (not a security hash).
public enum ContentHash {
    public static func fnv1a(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = seed
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    public static func hex(_ s: String) -> String {
        var data = Array(s.utf8)
        return String(format: "%016llx", data.withUnsafeMutableBytes { fnv1a(UnsafeRawBufferPointer($0)) })
    }

    /// The fingerprint of a file's contents, read in chunks.
    public static func file(_ path: String) throws -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { throw CAMError(.io, "\(path): cannot read") }
        defer { try? h.close() }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        while true {
            let chunk = h.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            hash = chunk.withUnsafeBytes { fnv1a($0, seed: hash) }
        }
        return String(format: "%016llx", hash)
    }
}
