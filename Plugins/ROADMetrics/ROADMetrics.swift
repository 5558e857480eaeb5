import CAMCore

/// ROAD (Rong et al., 2022): remove pixels by the map's ranking, fill them with the noisy linear
/// imputer (so the removal itself leaks no shape), and measure the change of the target's score.
/// upstream's `ROADMostRelevantFirst(percentile=80)` and `ROADLeastRelevantFirst(percentile=20)`.
final class ROADRemoval: CAMMetric {
    let order: RemovalOrder
    let name: String
    let summary: String
    let defaultPercentile: Double

    init(_ order: RemovalOrder) {
        self.order = order
        if order == .mostRelevantFirst {
            name = "ROADMostRelevantFirst"
            defaultPercentile = 80
            summary = "ROAD, most relevant first: score change after imputing the CAM's top (100−p)% (percentile=80)"
        } else {
            name = "ROADLeastRelevantFirst"
            defaultPercentile = 20
            summary = "ROAD, least relevant first: score change after imputing all but the CAM's top p% (percentile=20)"
        }
    }

    func threshold(_ call: MetricCall) throws -> RemovalThreshold {
        try call.check(parameters: ["percentile"])
        return try call.threshold(0, "percentile", default: .percentile(defaultPercentile))
    }

    func key(for call: MetricCall) throws -> String { "\(name)(\(try threshold(call)))" }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        try context.removalConfidenceChange(order: order, threshold: try threshold(call))
    }
}

let roadDefaultPercentiles: [Double] = [10, 20, 30, 40, 50, 60, 70, 80, 90]

/// Percentile lists as the reference's keys write them: nothing for the default.
func percentileArguments(_ percentiles: [Double], _ parameter: String = "percentiles") -> String {
    percentiles == roadDefaultPercentiles ? "" : "\(parameter)=\(MetricValue.list(percentiles.map { .number($0) }))"
}

/// ROAD at several thresholds, averaged (upstream's `ROADMostRelevantFirstAverage` /
/// `ROADLeastRelevantFirstAverage`, percentiles 10…90 by default).
final class ROADAverage: CAMMetric {
    let order: RemovalOrder
    let name: String
    let summary: String

    init(_ order: RemovalOrder) {
        self.order = order
        name = order == .mostRelevantFirst ? "ROADMostRelevantFirstAverage" : "ROADLeastRelevantFirstAverage"
        summary = "mean of \(order == .mostRelevantFirst ? "ROADMostRelevantFirst" : "ROADLeastRelevantFirst") over percentiles (percentiles=[10,…,90])"
    }

    func percentiles(_ call: MetricCall) throws -> [Double] {
        try call.check(parameters: ["percentiles"])
        return try call.percentiles(0, "percentiles", default: roadDefaultPercentiles)
    }

    func key(for call: MetricCall) throws -> String { "\(name)(\(percentileArguments(try percentiles(call))))" }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        try roadAverage(order, try percentiles(call), context)
    }
}

/// upstream's `ROADCombined`: (LeRF average − MoRF average) / 2 — high when removing the
/// least relevant pixels hurts little and removing the most relevant hurts much.
final class ROADCombined: CAMMetric {
    let name = "ROADCombined"
    let summary = "(ROADLeastRelevantFirstAverage − ROADMostRelevantFirstAverage) / 2 (percentiles=[10,…,90])"

    func percentiles(_ call: MetricCall) throws -> [Double] {
        try call.check(parameters: ["percentiles"])
        return try call.percentiles(0, "percentiles", default: roadDefaultPercentiles)
    }

    func key(for call: MetricCall) throws -> String { "\(name)(\(percentileArguments(try percentiles(call))))" }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        let p = try percentiles(call)
        // LeRF first, as upstream (the order the noise is drawn in).
        let lerf = try roadAverage(.leastRelevantFirst, p, context)
        let morf = try roadAverage(.mostRelevantFirst, p, context)
        return zip(lerf, morf).map { ($0 - $1) / 2 }
    }
}

/// `np.mean(np.float32([ROAD(p) for p in percentiles]), axis=0)`.
private func roadAverage(_ order: RemovalOrder, _ percentiles: [Double], _ context: MetricContext) throws -> [Float] {
    let all = try percentiles.map { try context.removalConfidenceChange(order: order, threshold: .percentile($0)) }
    return all[0].indices.map { i in
        var s: Float = 0
        for row in all { s += row[i] }
        return s / Float(all.count)
    }
}
