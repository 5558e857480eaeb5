import Foundation

/// Class names, one per line, for printing predictions.
public struct Labels: Sendable {
    public let names: [String]

    /// `--labels PATH`, else the model card's, else `<model>.labels.txt` or `labels.txt` beside
    /// the model.
    public static func find(explicit: String?, modelPath: String, card: ModelCard? = nil) throws -> Labels? {
        try path(explicit: explicit, modelPath: modelPath, card: card).map(load)
    }

    /// The labels file `find` reads, if any (target plugins read class names from it).
    public static func path(explicit: String?, modelPath: String, card: ModelCard? = nil) -> String? {
        if let explicit { return explicit }
        if let fromCard = card?.labelsPath { return fromCard }
        let url = URL(fileURLWithPath: modelPath)
        let folder = url.deletingLastPathComponent()
        for candidate in [url.deletingPathExtension().lastPathComponent + ".labels.txt", "labels.txt"] {
            let path = folder.appendingPathComponent(candidate).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    public static func load(_ path: String) throws -> Labels {
        guard let text = FileContents.text(atPath: path) else {
            throw CAMError(.io, "\(path): cannot read the labels file (expected UTF-8 text, one class name per line)")
        }
        return Labels(names: text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }.reversed().drop { $0.isEmpty }.reversed())
    }

    public func name(_ index: Int) -> String? { index < names.count ? names[index] : nil }
}

/// The `k` highest scores of a score vector, best first.
public func topK(_ scores: Tensor, _ k: Int) -> [(index: Int, score: Float)] {
    let values = scores.toFloats()
    return values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
        .prefix(k).map { ($0, values[$0]) }
}
