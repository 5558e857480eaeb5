import CAMCore

/// upstream's `CamMultImageConfidenceChange`: the target's score on the input multiplied by
/// the map (every channel, after normalisation) minus its score on the input.
final class CamMultImageConfidenceChange: CAMMetric {
    let name = "CamMultImageConfidenceChange"
    let summary = "score(input × CAM) − score(input), per image"

    func key(for call: MetricCall) throws -> String {
        try call.check(parameters: [])
        return name
    }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        try camMultImageChange(context)
    }
}

/// upstream's `DropInConfidence`: max(−change, 0) of `CamMultImageConfidenceChange`.
final class DropInConfidence: CAMMetric {
    let name = "DropInConfidence"
    let summary = "max(score(input) − score(input × CAM), 0), per image"

    func key(for call: MetricCall) throws -> String {
        try call.check(parameters: [])
        return name
    }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        try camMultImageChange(context).map { Swift.max(-$0, 0) }
    }
}

/// upstream's `IncreaseInConfidence`: 1 where `CamMultImageConfidenceChange` is positive, else 0.
final class IncreaseInConfidence: CAMMetric {
    let name = "IncreaseInConfidence"
    let summary = "1 if score(input × CAM) > score(input), else 0, per image"

    func key(for call: MetricCall) throws -> String {
        try call.check(parameters: [])
        return name
    }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        try camMultImageChange(context).map { $0 > 0 ? 1 : 0 }
    }
}

private func camMultImageChange(_ context: MetricContext) throws -> [Float] {
    try context.confidenceChange(try context.inputTimesCAMs())
}
