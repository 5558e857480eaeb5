import CAMCore

/// upstream's `Complexity`: the mean absolute value of the map (its L1 norm over the pixel
/// count) — 0 for an empty map, 1 for a map that is 1 everywhere.
final class Complexity: CAMMetric {
    let name = "Complexity"
    let summary = "mean |CAM| per image (0: empty map, 1: everything relevant)"

    func key(for call: MetricCall) throws -> String {
        try call.check(parameters: [])
        return name
    }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        complexity(context)
    }
}

func complexity(_ context: MetricContext) -> [Float] {
    (0..<context.batchSize).map { i in
        let cam = context.cam(i)
        var s = 0.0
        for v in cam { s += Double(abs(v)) }
        return Float(s / Double(cam.count))
    }
}

/// upstream's `Coherency`: the Pearson correlation, mapped to [0, 1], between the map and the
/// map the same method computes on the input multiplied by that map.
/// `base_method=NAME` picks another method for the second map (default: the one that made the maps).
final class Coherency: CAMMetric {
    let name = "Coherency"
    let summary = "(pearson(CAM(input × CAM), CAM) + 1) / 2 (base_method: default the CAM's own method)"

    func baseMethod(_ call: MetricCall, _ registry: PluginRegistry) throws -> (any CAMMethod)? {
        try call.check(parameters: ["base_method"])
        return try call.name(nil, "base_method").map { try registry.method(named: $0) }
    }

    func key(for call: MetricCall) throws -> String {
        let base = try baseMethod(call, .shared)
        return base.map { "\(name)(base_method=\($0.name))" } ?? name
    }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        try coherency(context, base: try baseMethod(call, context.registry))
    }
}

func coherency(_ context: MetricContext, base: (any CAMMethod)?) throws -> [Float] {
    let mixed = try context.cams(for: try context.inputTimesCAMs(), method: base)
    let plane = context.imageSize.height * context.imageSize.width
    return (0..<context.batchSize).map { i in
        let a = Array(mixed.floats[(i * plane)..<((i + 1) * plane)])[...]
        let b = context.cam(i)
        return Float((pearson(a, b[...]) + 1) / 2)
    }
}

/// upstream's `batch_pearson_coherency` for one pair: sample covariance over the product of
/// the sample standard deviations plus 1e-8.
func pearson(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    let n = Double(a.count)
    var ma = 0.0, mb = 0.0
    for v in a { ma += Double(v) }
    for v in b { mb += Double(v) }
    ma /= n
    mb /= n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for (x, y) in zip(a, b) {
        let dx = Double(x) - ma, dy = Double(y) - mb
        sab += dx * dy
        saa += dx * dx
        sbb += dy * dy
    }
    let cov = sab / (n - 1)
    let sa = (saa / (n - 1)).squareRoot(), sb = (sbb / (n - 1)).squareRoot()
    return cov / (sa * sb + 1e-8)
}

/// upstream's `ARCC`: the harmonic mean of Coherency, 1 − Complexity and ROADCombined (scaled
/// by 2 and clipped to [0, 1]) at `road_percentiles` (default [20,40,60,80]).
final class ARCC: CAMMetric {
    let name = "ARCC"
    let summary = "3 / (1/Coherency + 1/(1 − Complexity) + 1/clip(2·ROADCombined, 0, 1)) (road_percentiles=[20,40,60,80], base_method)"
    static let defaultROADPercentiles: [Double] = [20, 40, 60, 80]

    func parts(_ call: MetricCall, _ registry: PluginRegistry) throws -> (percentiles: [Double], base: (any CAMMethod)?) {
        try call.check(parameters: ["base_method", "road_percentiles"])
        let p = try call.percentiles(nil, "road_percentiles", default: Self.defaultROADPercentiles)
        return (p, try call.name(nil, "base_method").map { try registry.method(named: $0) })
    }

    func key(for call: MetricCall) throws -> String {
        let (p, base) = try parts(call, .shared)
        var args: [String] = []
        if let base { args.append("base_method=\(base.name)") }
        if p != Self.defaultROADPercentiles { args.append("road_percentiles=\(MetricValue.list(p.map { .number($0) }))") }
        return args.isEmpty ? name : "\(name)(\(args.joined(separator: ", ")))"
    }

    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float] {
        let (p, base) = try parts(call, context.registry)
        let cx = complexity(context)
        let coh = try coherency(context, base: base)
        let road = try context.evaluate(MetricCall("ROADCombined", named: ["percentiles": .list(p.map { .number($0) })]))
        let eps: Float = 1e-8
        return (0..<context.batchSize).map { i in
            let r = Swift.min(Swift.max(road[i] * 2, 0), 1)
            return 3 / ((1 / (coh[i] + eps)) + (1 / ((1 - cx[i]) + eps)) + (1 / (r + eps)))
        }
    }
}
