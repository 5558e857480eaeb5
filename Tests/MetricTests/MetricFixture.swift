import CAMCore
import Foundation
import TestSupport

/// The reference run in `../shared/fixtures/metrics/resnet18/metrics.json`: upstream's metrics on
/// the ResNet-18 fixture's GradCAM maps, for logit and softmax targets, with the imputer's noise
/// off (`noise0`) and seeded (`noise0.01_seed0`).
enum MetricFixture {
    static let folder = "metrics/resnet18"
    static let modelPath = "torch/resnet18/model.onnx"

    struct Result: Sendable {
        let key: String          // e.g. "logit/noise0/ROADMostRelevantFirst(80)"
        let targetKind: String?  // "logit", "softmax" or nil
        let variant: String      // "deterministic", "noise0", "noise0.01_seed0"
        let metric: String       // e.g. "ROADMostRelevantFirst(80)"
        let scores: [Double]
    }

    /// The reference's JSON (Python wrote NaN for undefined means; JSONSerialization needs null).
    nonisolated(unsafe) static let json: [String: Any]? = {
        guard let path = Fixtures.path("\(folder)/metrics.json"), let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "NaN", with: "null")
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }()

    /// Every result of the reference, in file order (empty when the fixtures are absent).
    static let results: [Result] = {
        guard let path = Fixtures.path("\(folder)/metrics.json"), let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8),
              let results = json?["results"] as? [String: [String: Any]] else { return [] }
        // JSONSerialization loses key order; recover it from the text.
        let ordered = results.keys.sorted { (text.range(of: "\"\($0)\"")?.lowerBound ?? text.endIndex) < (text.range(of: "\"\($1)\"")?.lowerBound ?? text.endIndex) }
        return ordered.map { key in
            let r = results[key]!
            let parts = key.split(separator: "/", maxSplits: 2).map(String.init)
            return Result(key: key, targetKind: r["target_kind"] as? String, variant: r["variant"] as? String ?? parts[1], metric: parts[2],
                          scores: (r["scores"] as? [Any] ?? []).map { ($0 as? Double) ?? .nan })
        }
    }()

    static var exactKeys: [String] { results.filter { $0.variant != "noise0.01_seed0" }.map(\.key) }
    static var noisyKeys: [String] { results.filter { $0.variant == "noise0.01_seed0" }.map(\.key) }
    static func result(_ key: String) -> Result { results.first { $0.key == key }! }

    static var categories: [Int] {
        ((json?["targets"] as? [String: Any])?["logit"] as? [[String: Any]] ?? []).compactMap { $0["category"] as? Int }
    }

    /// The model, input and maps the reference used.
    struct Batch: @unchecked Sendable {
        let model: Model
        let input: Tensor
        let cams: Tensor
    }

    static let batch: Batch? = {
        guard let modelPath = Fixtures.path(modelPath), json != nil else { return nil }
        Fixtures.loadPlugins()
        guard let model = try? Model.load(path: modelPath), let input = try? Fixtures.npy("torch/resnet18/input.npy"),
              let cams = try? Fixtures.npy("torch/resnet18/GradCAM.npy") else { return nil }
        return Batch(model: model, input: input, cams: cams)
    }()

    static func targets(_ kind: String?) -> [any Target] {
        categories.map { kind == "softmax" ? ClassifierOutputSoftmaxTarget(category: $0) as any Target : ClassifierOutputTarget(category: $0) }
    }

    /// Upstream's `Coherency(base_method=GradCAM(model, [model.layer4.1]))`.
    static func camRequest() throws -> CAMRequest {
        CAMRequest(method: try PluginRegistry.shared.method(named: "gradcam"), targetLayers: ["layer4.1"])
    }

    static func makeContext(_ kind: String?, noise: Float, seed: UInt64 = 0) throws -> MetricContext? {
        guard let b = batch else { return nil }
        return try MetricContext(model: b.model, input: b.input, cams: b.cams, targets: targets(kind), imputerNoise: noise, seed: seed,
                                 camRequest: try camRequest())
    }

    /// Shared noise-free contexts (one cache of imputed images and model outputs serves every test).
    static let exactContexts: [String: MetricContext] = {
        guard let logit = try? makeContext("logit", noise: 0), let softmax = try? logit.variant(targets: targets("softmax")) else { return [:] }
        return ["logit": logit, "softmax": softmax]
    }()

    static func exactContext(_ kind: String?) -> MetricContext? { exactContexts[kind ?? "logit"] }

    /// The same with the imputer's noise on (sharing the noise-free imputations).
    static func noisyContext(_ kind: String?, seed: UInt64) throws -> MetricContext? {
        try exactContext(kind)?.variant(imputerNoise: 0.01, seed: seed)
    }
}
