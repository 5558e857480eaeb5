import Foundation

/// A run's HTML gallery: one self-contained page (inline style, images by relative path)
/// with the pictures down and the methods across, each with its target class — like the
/// tables of upstream's README. Viewable offline.
public enum Gallery {
    public struct Entry: Sendable {
        public let stem: String
        /// Per method (in column order): the overlay's path relative to the gallery, and a caption.
        public let cells: [(image: String?, caption: String)]
    }

    public static func html(title: String, methods: [String], entries: [Entry]) -> String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var rows = ""
        for e in entries {
            rows += "<tr><th class=\"name\">\(escape(e.stem))</th>"
            for cell in e.cells {
                if let image = cell.image {
                    rows += "<td><img src=\"\(escape(image))\" alt=\"\(escape(e.stem))\" loading=\"lazy\"><div class=\"caption\">\(escape(cell.caption))</div></td>"
                } else {
                    rows += "<td class=\"missing\">\(escape(cell.caption))</td>"
                }
            }
            rows += "</tr>\n"
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
        table { border-collapse: collapse; }
        th, td { border: 1px solid #ccc; padding: 6px; text-align: center; vertical-align: top; }
        th.name { text-align: left; font-weight: normal; font-family: monospace; max-width: 16em; word-break: break-all; }
        img { width: 224px; height: auto; display: block; }
        .caption { font-size: 0.8em; margin-top: 4px; }
        .missing { color: #a00; }
        </style></head><body>
        <h1>\(escape(title))</h1>
        <table id="gallery"><thead><tr><th>image</th>\(methods.map { "<th class=\"method\">\(escape($0))</th>" }.joined())</tr></thead>
        <tbody>
        \(rows)</tbody></table>
        <p>\(entries.count) images × \(methods.count) methods — SwiftCAM \(SwiftCAMVersion.string)</p>
        </body></html>

        """
    }
}
