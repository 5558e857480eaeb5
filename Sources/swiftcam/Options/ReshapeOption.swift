import ArgumentParser
import CAMCore

/// `--reshape NAME[:OPTIONS]`: the reshape transform (a plugin) that turns a transformer
/// layer's tokens into (N, C, h, w), and its options (`vit:14x14` forces the grid).
enum ReshapeOption {
    static let help = ArgumentHelp(
        "Reshape transform for transformer layers: vit (drop class/distillation tokens) or swin; NAME:HxW forces the grid (default: found from the graph and the token count).",
        valueName: "name[:HxW]")

    /// Checks the spelling before any work is done.
    static func validate(_ spec: String?) throws {
        guard let spec else { return }
        if split(spec).name.isEmpty { throw ValidationError("--reshape needs a transform name, e.g. --reshape vit or --reshape vit:14x14") }
    }

    static func split(_ spec: String) -> (name: String, options: String?) {
        guard let colon = spec.firstIndex(of: ":") else { return (spec, nil) }
        return (String(spec[..<colon]), String(spec[spec.index(after: colon)...]))
    }

    /// The transform and its options (plugins must be loaded).
    static func resolve(_ spec: String?, registry: PluginRegistry = .shared) throws -> (transform: (any ReshapeTransform)?, options: String?) {
        guard let spec else { return (nil, nil) }
        let (name, options) = split(spec)
        guard let transform = registry.reshape(named: name) else {
            let known = registry.reshapeNames
            throw CAMError(.usage, "no plugin provides the reshape transform '\(name)'"
                + (known.isEmpty ? " (no reshape plugins are loaded; see `swiftcam plugins`)" : "; available: \(known.joined(separator: ", "))"))
        }
        return (transform, options)
    }
}
