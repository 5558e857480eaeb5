import ArgumentParser
import CAMCore
import Foundation

/// `explain --metrics …`: CAM quality metrics (metric plugins) on the maps just computed.
struct MetricOptions: ParsableArguments {
    @Option(name: .customLong("metrics"), help: ArgumentHelp(
        "CAM metrics to compute, as upstream's classes with their arguments, comma-separated (repeatable), e.g. \"ROADMostRelevantFirst(80),RemoveMostRelevantFirst('auto'),ROADCombined(percentiles=[20,40,60,80]),ARCC\". `swiftcam plugins` lists them.",
        valueName: "NAME[,NAME…]"))
    var metrics: [String] = []

    @Option(name: .customLong("metrics-json"), help: "Write every metric's per-image scores to this JSON file, keyed as upstream's class with its arguments.")
    var metricsJSON: String?

    @Option(name: .customLong("metric-target"), help: "What the metrics score: logit (ClassifierOutputTarget), softmax (ClassifierOutputSoftmaxTarget) of each image's category, or cam (the targets the maps explain). Default: logit for classifier targets, else cam.")
    var metricTarget: String?

    @Option(name: .customLong("road-noise"), help: "Standard deviation of the noise ROAD's imputer adds to imputed pixels (upstream's default 0.01; 0: deterministic).")
    var roadNoise: Float = 0.01

    @Option(name: .customLong("metric-seed"), help: "Seed of the imputer's noise; reseeded before every metric, as the reference does (default 0).")
    var metricSeed: UInt64 = 0

    var isActive: Bool { !metrics.isEmpty }

    func validate() throws {
        if metrics.isEmpty {
            if metricsJSON != nil { throw ValidationError("--metrics-json needs --metrics") }
            if metricTarget != nil { throw ValidationError("--metric-target needs --metrics") }
        }
        if let t = metricTarget, !["logit", "softmax", "cam"].contains(t) {
            throw ValidationError("--metric-target must be logit, softmax or cam, got '\(t)'")
        }
        guard roadNoise.isFinite, roadNoise >= 0 else { throw ValidationError("--road-noise must be ≥ 0, got \(roadNoise)") }
        _ = try calls()
    }

    func calls() throws -> [MetricCall] {
        do {
            return try metrics.flatMap { try MetricCall.parseList($0) }
        } catch let e as CAMError {
            throw ValidationError("--metrics: \(e.message)")
        }
    }

    /// Resolves every metric and its key before any work is done (plugins must be loaded).
    func resolve() throws -> [(call: MetricCall, key: String)] {
        try calls().map { call in (call, try PluginRegistry.shared.metric(named: call.name).key(for: call)) }
    }

    /// The targets the metrics score, one per image.
    func targets(for result: CAMResult) throws -> [any Target] {
        func category(_ t: any Target) -> Int? {
            (t as? ClassifierOutputTarget)?.category ?? (t as? ClassifierOutputSoftmaxTarget)?.category ?? (t as? ClassifierOutputReST)?.category
        }
        let categories = result.targets.map(category)
        let kind = metricTarget ?? (categories.allSatisfy { $0 != nil } ? "logit" : "cam")
        if kind == "cam" { return result.targets }
        return try zip(result.targets, categories).map { t, k in
            guard let k else { throw CAMError(.usage, "--metric-target \(kind) needs a classifier category, but the map explains \(t.description); use --metric-target cam") }
            return kind == "softmax" ? ClassifierOutputSoftmaxTarget(category: k) : ClassifierOutputTarget(category: k)
        }
    }

    /// Computes the metrics on `result`'s maps.
    func evaluate(_ resolved: [(call: MetricCall, key: String)], model: Model, input: Tensor, result: CAMResult,
                  request: CAMRequest) throws -> [(key: String, scores: [Float])] {
        guard let maps = result.maps else { throw CAMError(.usage, "--metrics needs a method that produces class activation maps") }
        var camRequest = request
        camRequest.progress = nil
        let context = try MetricContext(model: model, input: input, cams: maps, targets: try targets(for: result), imputerNoise: roadNoise,
                                        seed: metricSeed, camRequest: camRequest)
        return try resolved.map { ($0.key, try context.evaluate($0.call)) }
    }

    /// One line per image: its name and every metric's score.
    static func lines(names: [String], _ scores: [(key: String, scores: [Float])]) -> [String] {
        names.enumerated().map { i, name in
            "\(name): " + scores.map { "\($0.key) = \($0.scores[i])" }.joined(separator: "; ")
        }
    }
}
