import CAMCore

/// upstream's `PerturbationConfidenceMetric(RemoveMostRelevantFirst(p, NoisyLinearImputer()))`
/// and its `RemoveLeastRelevantFirst` twin: impute the pixels the mask removes at percentile
/// `p` (or Otsu's threshold, 'auto') and report the change of the target's score.
final class RemoveRelevantFirst: CAMMetric {
    let order: RemovalOrder
    let name: String
    let summary: String

    init(_ order: RemovalOrder) {
        self.order = order
        if order == .mostRelevantFirst {
            name = "RemoveMostRelevantFirst"
            summary = "score change after imputing the pixels at or above the CAM's percentile p (p or 'auto'; noisy linear imputer)"
        } else {
            name = "RemoveLeastRelevantFirst"
            summary = "score change after imputing the pixels at or below the CAM's percentile 100−p (p or 'auto'; noisy linear imputer)"
        }
    }

    func threshold(_ call: MetricCall) throws -> RemovalThreshold {
        try call.check(parameters: ["percentile"])
        return try call.threshold(0, "percentile", default: nil)
    }

    func key(for call: MetricCall) throws -> String {
        "\(name)(\(try threshold(call)))"
    }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        try context.removalConfidenceChange(order: order, threshold: try threshold(call))
    }
}

/// upstream's `AveragerAcrossThresholds(metric, percentiles)`: the mean over the percentiles of
/// a metric that takes one (`AveragerAcrossThresholds(RemoveMostRelevantFirst, percentiles=[25,50,75])`).
final class AveragerAcrossThresholds: CAMMetric {
    let name = "AveragerAcrossThresholds"
    let summary = "mean over percentiles of a percentile metric: AveragerAcrossThresholds(RemoveMostRelevantFirst, percentiles=[…])"
    static let defaultPercentiles: [Double] = [10, 20, 30, 40, 50, 60, 70, 80, 90]

    func parts(_ call: MetricCall) throws -> (inner: any CAMMetric, percentiles: [Double]) {
        try call.check(parameters: ["imputer", "percentiles"])
        guard let innerName = try call.name(0, "imputer") else {
            throw CAMError(.usage, "metric \(call): name the metric to average, e.g. AveragerAcrossThresholds(RemoveMostRelevantFirst, percentiles=[25,50,75])")
        }
        let inner = try PluginRegistry.shared.metric(named: innerName)
        let percentiles = try call.percentiles(1, "percentiles", default: Self.defaultPercentiles)
        _ = try inner.key(for: MetricCall(inner.name, [.number(percentiles[0])]))
        return (inner, percentiles)
    }

    func key(for call: MetricCall) throws -> String {
        let (inner, percentiles) = try parts(call)
        return "\(name)(\(inner.name), percentiles=\(MetricValue.list(percentiles.map { .number($0) })))"
    }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        let (inner, percentiles) = try parts(call)
        let all = try percentiles.map { try context.evaluate(MetricCall(inner.name, [.number($0)])) }
        return meanOverThresholds(all)
    }
}

/// `np.mean(np.float32(scores), axis=0)`: a float32 sum over thresholds, then the division.
func meanOverThresholds(_ all: [[Float]]) -> [Float] {
    guard let first = all.first else { return [] }
    return first.indices.map { i in
        var s: Float = 0
        for row in all { s += row[i] }
        return s / Float(all.count)
    }
}
