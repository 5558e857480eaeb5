import ArgumentParser
import CAMCore
import Foundation

/// `--target NAME[:ARGS]`: a target factory and its options.
///
/// - `classifier`, `classifier-softmax`, `classifier-rest`, `finer`: no arguments (`--category`).
/// - `segmentation:CATEGORY[:MASK]` — MASK a `.npy` or PNG; without it the mask is derived from
///   the output (argmax, or `threshold=T` for a one-channel map).
/// - `boxes[:FILE.json]` — reference boxes, else the model's own detections (`top=K`, `iou=T`).
/// - `outputs:NAME[i,j,…]+NAME[…]` — the sum of those output entries.
/// Any target also takes `key=value` items after a colon (`segmentation:0:threshold=0.3`).
enum TargetOption {
    static let help = "classifier (default), classifier-softmax, classifier-rest, segmentation:CATEGORY[:MASK], boxes[:FILE.json] (with --decoder), outputs:NAME[i,j,…]+…, or another target plugin; NAME:key=value adds options. Once for the batch, or once per image."

    /// The factory name and options of one `--target` value.
    static func parse(_ text: String) throws -> (name: String, options: [String: String]) {
        guard let colon = text.firstIndex(of: ":") else { return (text, [:]) }
        let name = String(text[..<colon])
        let rest = String(text[text.index(after: colon)...])
        var options: [String: String] = [:]
        if name == "outputs" {
            options["entries"] = rest
            return (name, options)
        }
        let positional: [String]
        switch name {
        case "segmentation": positional = ["category", "mask"]
        case "boxes": positional = ["file"]
        default: positional = []
        }
        var next = 0
        for item in splitArguments(rest) where !item.isEmpty {
            if let eq = item.firstIndex(of: "="), !item[..<eq].contains("/"), !item[..<eq].contains(".") {
                options[String(item[..<eq])] = String(item[item.index(after: eq)...])
            } else if next < positional.count {
                options[positional[next]] = item
                next += 1
            } else if positional.isEmpty {
                // Checked once the target is known to exist (see `resolve`).
                options["#\(options.count)"] = item
            } else {
                throw ValidationError("--target \(text): unexpected argument '\(item)'" + (positional.isEmpty ? " (\(name) takes only key=value options)" : " (\(name) takes \(positional.joined(separator: ", ")))"))
            }
        }
        return (name, options)
    }

    /// The colon-separated arguments after the name.
    static func splitArguments(_ s: String) -> [String] {
        s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    }

    /// The target specs for the run: one for the batch or one per image.
    static func resolve(_ values: [String], decoder: String?, registry: PluginRegistry) throws -> [TargetSpec] {
        let texts = values.isEmpty ? ["classifier"] : values
        return try texts.map { text in
            let (name, parsed) = try parse(text)
            guard let factory = registry.target(named: name) else {
                throw CAMError(.usage, "no target named '\(name)' (available: \(registry.targetNames.joined(separator: ", ")))")
            }
            if let stray = parsed.keys.sorted().first(where: { $0.hasPrefix("#") }) {
                throw CAMError(.usage, "--target \(text): unexpected argument '\(parsed[stray]!)' (\(name) takes only key=value options)")
            }
            var options = parsed
            if let decoder, options["decoder"] == nil { options["decoder"] = decoder }
            if name == "boxes" && options["decoder"] == nil {
                throw CAMError(.usage, "--target boxes needs --decoder yolov8|yolov5|picodet[:options] to read the model's head")
            }
            return TargetSpec(factory: factory, options: options)
        }
    }
}
