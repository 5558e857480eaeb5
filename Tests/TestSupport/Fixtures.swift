import CAMCore
import Foundation

/// Locations of the repository and the shared reference fixtures, and comparisons used by
/// the tests that check SwiftCAM's numbers against upstream's.
public enum Fixtures {
    /// The repository root (the folder holding Package.swift).
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url
    }()

    /// `$SWIFTCAM_FIXTURES`, else `../shared/fixtures` beside the repository.
    public static let root: URL = {
        if let env = ProcessInfo.processInfo.environment["SWIFTCAM_FIXTURES"] { return URL(fileURLWithPath: env) }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }()

    /// The path of a fixture file, or nil when it is not present (tests then skip).
    public static func path(_ relative: String) -> String? {
        let p = root.appendingPathComponent(relative).path
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    public static var available: Bool { FileManager.default.fileExists(atPath: root.path) }

    /// Reads a fixture `.npy`.
    public static func npy(_ relative: String) throws -> Tensor {
        guard let p = path(relative) else { throw CAMError(.io, "fixture \(relative) is missing") }
        return try NPY.read(p)
    }

    /// Reads a fixture JSON object.
    public static func json(_ relative: String) throws -> [String: Any] {
        guard let p = path(relative), let data = FileManager.default.contents(atPath: p),
              let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CAMError(.io, "fixture \(relative) is missing or not a JSON object")
        }
        return obj
    }

    /// A reference fixture's target layer (its ONNX tensor) and per-image categories, from its
    /// `manifest.json`.
    public static func targetLayerAndCategories(_ fixture: String) throws -> (layer: String, categories: [Int]) {
        let m = try json("\(fixture)/manifest.json")
        let layer = ((m["target_layer"] as? [String: Any])?["onnx_tensor"] as? String) ?? ""
        let categories = (m["targets"] as? [[String: Any]] ?? []).compactMap { $0["category"] as? Int }
        return (layer, categories)
    }

    /// Loads every plugin from the build folder (once).
    public static func loadPlugins() {
        PluginLoader.loadAll()
    }
}

/// Array comparisons with the fixtures README's conventions.
public enum Compare {
    /// max |a − b|.
    public static func maxAbs(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.toFloats(), b.toFloats()).reduce(0) { Swift.max($0, abs($1.0 - $1.1)) }
    }

    /// max |a − ref| / max |ref| over the whole array ("relative" in the fixtures README).
    public static func relative(_ a: Tensor, _ ref: Tensor) -> Float {
        let scale = ref.toFloats().reduce(0) { Swift.max($0, abs($1)) }
        return maxAbs(a, ref) / Swift.max(scale, 1e-30)
    }

    /// Pearson correlation of two equally long sequences (1 for two constant equal maps).
    public static func pearson(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        let n = Double(a.count)
        let ma = a.reduce(0.0) { $0 + Double($1) } / n, mb = b.reduce(0.0) { $0 + Double($1) } / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) {
            let dx = Double(x) - ma, dy = Double(y) - mb
            sab += dx * dy; saa += dx * dx; sbb += dy * dy
        }
        if saa == 0 || sbb == 0 { return saa == sbb ? 1 : 0 }
        return sab / (saa * sbb).squareRoot()
    }

    /// Per-image (Pearson, max |Δ|) of two (N, H, W) map stacks.
    public static func perImage(_ a: Tensor, _ ref: Tensor) -> [(pearson: Double, maxAbs: Float, referenceIsConstant: Bool)] {
        let n = ref.shape[0], plane = ref.count / n
        let fa = a.toFloats(), fr = ref.toFloats()
        return (0..<n).map { i in
            let sa = fa[(i * plane)..<((i + 1) * plane)], sr = fr[(i * plane)..<((i + 1) * plane)]
            return (pearson(sa, sr), zip(sa, sr).reduce(0) { Swift.max($0, abs($1.0 - $1.1)) }, sr.min() == sr.max())
        }
    }

    /// The fixtures README's acceptance for final maps: Pearson ≥ 0.999 and max |Δ| ≤ `maxDelta`
    /// per image; a constant reference map must be matched within `maxDelta` everywhere.
    public static func mapsMatch(_ a: Tensor, _ ref: Tensor, maxDelta: Float = 0.01) -> (ok: Bool, report: String) {
        guard a.shape == ref.shape else { return (false, "shape \(a.shape) vs reference \(ref.shape)") }
        let stats = perImage(a, ref)
        let ok = stats.allSatisfy { $0.maxAbs <= maxDelta && ($0.pearson >= 0.999 || $0.referenceIsConstant) }
        return (ok, stats.enumerated().map { String(format: "image %d: pearson %.6f, max|Δ| %.2e", $0.offset, $0.element.pearson, $0.element.maxAbs) }.joined(separator: "; "))
    }
}
