import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One picture of a run: where it is, and the relative path its outputs mirror.
public struct InputItem: Sendable, Hashable {
    public let path: String
    /// The input's path relative to the deepest folder holding every input of the run, without
    /// extension: outputs mirror the inputs' layout, and two `cat.jpg` in different folders
    /// never collide.
    public let stem: String
}

/// Expands a run's inputs — files, folders (recursively, PNG and JPEG) and globs — into a
/// sorted, de-duplicated list.
public enum InputCollection {
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    public static func expand(_ specs: [String], base: String) throws -> [InputItem] {
        var paths = Set<String>()
        for spec in specs {
            let absolute = spec.hasPrefix("/") ? spec : URL(fileURLWithPath: base).appendingPathComponent(spec).standardized.path
            if spec.contains(where: { "*?[".contains($0) }) {
                let matches = globMatches(absolute)
                guard !matches.isEmpty else { throw CAMError(.usage, "input '\(spec)': no files match") }
                for m in matches where isImage(m) { paths.insert(m) }
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
                throw CAMError(.usage, "input '\(spec)': no such file or folder (\(absolute))")
            }
            if isDirectory.boolValue {
                let e = FileManager.default.enumerator(atPath: absolute)
                while let rel = e?.nextObject() as? String {
                    let p = absolute + "/" + rel
                    if isImage(p) { paths.insert(p) }
                }
            } else {
                paths.insert(absolute)
            }
        }
        let root = commonFolder(Array(paths))
        return paths.map { p in
            InputItem(path: p, stem: (String(p.dropFirst(root.count)) as NSString).deletingPathExtension)
        }.sorted { $0.stem < $1.stem || ($0.stem == $1.stem && $0.path < $1.path) }
    }

    /// The deepest folder (with a trailing slash) that holds every path.
    static func commonFolder(_ paths: [String]) -> String {
        guard var common = paths.first.map({ URL(fileURLWithPath: $0).deletingLastPathComponent().pathComponents }) else { return "/" }
        for p in paths.dropFirst() {
            let parts = URL(fileURLWithPath: p).deletingLastPathComponent().pathComponents
            var n = 0
            while n < common.count && n < parts.count && common[n] == parts[n] { n += 1 }
            common = Array(common.prefix(n))
        }
        let joined = NSString.path(withComponents: common.isEmpty ? ["/"] : common)
        return joined.hasSuffix("/") ? joined : joined + "/"
    }

    /// The inputs this shard takes: those whose position modulo `count` is `index`.
    public static func shard(_ items: [InputItem], index: Int, count: Int) -> [InputItem] {
        items.enumerated().filter { $0.offset % count == index }.map(\.element)
    }

    static func isImage(_ path: String) -> Bool {
        imageExtensions.contains(URL(fileURLWithPath: path).pathExtension.lowercased())
    }

    static func globMatches(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
    }
}
