import CAMCore
import Foundation
import Testing
import TestSupport

/// `swiftcam explain --metrics …`: the JSON report (keys spelled as upstream's classes with their
/// arguments), a line per image on stdout, `--metric-target`, `--road-noise`, and the errors.
@Suite("swiftcam explain --metrics")
struct MetricsCommandTests {
    static let fixture = "torch/resnet18"
    static let metrics = "metrics/resnet18/metrics.json"

    func explain(_ extra: [String]) throws -> CommandRunner.Result? {
        guard let model = Fixtures.path("\(Self.fixture)/model.onnx"), let input = Fixtures.path("\(Self.fixture)/input.npy") else { return nil }
        return try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", input, "--target-layer", "layer4.1",
                                                              "--category", "243", "--category", "281", "--category", "339"] + extra)
    }

    /// metrics.json without Python's NaN (JSONSerialization rejects it).
    func reference() throws -> [String: [String: Any]]? {
        guard let path = Fixtures.path(Self.metrics), let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "NaN", with: "null")
        return ((try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["results"]) as? [String: [String: Any]]
    }

    func readJSON(_ path: String) throws -> [String: [Double]] {
        let obj = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: path)!) as! [String: [Any]]
        return obj.mapValues { $0.map { ($0 as? Double) ?? .nan } }
    }

    @Test(arguments: ["logit", "softmax"])
    func reportMatchesTheReference(_ kind: String) throws {
        guard let results = try reference() else { return }
        let dir = try CommandRunner.temporaryFolder("metrics")
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("metrics.json").path
        let asked = ["ROADMostRelevantFirst(80)", "ROADLeastRelevantFirst", "RemoveMostRelevantFirst('auto')", "removeleastrelevantfirst(auto)",
                     "ROADCombined(percentiles=[20,40,60,80])", "CamMultImageConfidenceChange", "DropInConfidence", "IncreaseInConfidence",
                     "Complexity", "Coherency", "ARCC"]
        guard let r = try explain(["--metrics", asked.prefix(5).joined(separator: ","), "--metrics", asked.dropFirst(5).joined(separator: ","),
                                   "--metrics-json", json, "--road-noise", "0", "--metric-target", kind, "--quiet"]) else { return }
        #expect(r.status == 0, "\(r.stderr)")
        let report = try readJSON(json)
        let keys = ["ROADMostRelevantFirst(80)", "ROADLeastRelevantFirst(20)", "RemoveMostRelevantFirst('auto')", "RemoveLeastRelevantFirst('auto')",
                    "ROADCombined(percentiles=[20,40,60,80])", "CamMultImageConfidenceChange", "DropInConfidence", "IncreaseInConfidence",
                    "Complexity", "Coherency", "ARCC"]
        #expect(Set(report.keys) == Set(keys), "\(report.keys.sorted())")
        // The file lists the metrics in the order asked for.
        let text = try String(contentsOfFile: json, encoding: .utf8)
        let positions = keys.map { text.range(of: "\"\($0)\"")?.lowerBound }
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted() && !positions.contains(nil))
        for key in keys {
            let variant = key == "Complexity" ? "none/deterministic" : (["CamMultImageConfidenceChange", "DropInConfidence", "IncreaseInConfidence", "Coherency"].contains(key)
                ? "\(kind)/deterministic" : "\(kind)/noise0")
            guard let ref = results["\(variant)/\(key)"]?["scores"] as? [Double], let ours = report[key] else {
                Issue.record("no reference or result for \(key)")
                continue
            }
            // The tool computes its own Grad-CAM maps (equal to the reference's within ~1e-6), so
            // allow 1e-2 relative here; the metric tests check 1e-3 on the reference's maps.
            for (o, rv) in zip(ours, ref) {
                #expect(abs(o - rv) <= 1e-2 * abs(rv) + 1e-6, "\(kind) \(key): \(o) vs \(rv)")
            }
        }
        // One line per image on stdout, naming every metric.
        let lines = r.stdout.split(separator: "\n").filter { $0.contains("ROADMostRelevantFirst(80) = ") }
        #expect(lines.count == 3, "\(r.stdout)")
        for (i, line) in lines.enumerated() {
            #expect(line.hasPrefix("input_\(i): "), "\(line)")
            for key in keys { #expect(line.contains("\(key) = "), "\(line)") }
        }
        #expect(r.stdout.contains("wrote \(json)"))
    }

    @Test func roadNoiseIsSeededAndSwitchable() throws {
        let dir = try CommandRunner.temporaryFolder("noise")
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ name: String, _ extra: [String]) throws -> [String: [Double]]? {
            let json = dir.appendingPathComponent(name).path
            guard let r = try explain(["--metrics", "ROADMostRelevantFirst(80),ROADLeastRelevantFirst(20)", "--metrics-json", json, "--quiet"] + extra) else { return nil }
            #expect(r.status == 0, "\(r.stderr)")
            return try readJSON(json)
        }
        guard let a = try run("a.json", []), let b = try run("b.json", []), let c = try run("c.json", ["--metric-seed", "7"]),
              let off = try run("off.json", ["--road-noise", "0"]) else { return }
        #expect(a == b, "the same seed gives the same scores")
        #expect(a != c, "another seed gives other scores")
        // Image 0's map is all zeros: every pixel is imputed, by 0 without noise, by noise with it.
        let key = "ROADMostRelevantFirst(80)"
        #expect(a[key]![0] != off[key]![0])
        #expect(abs(a[key]![0] - off[key]![0]) < 0.2, "default noise 0.01 moves the logit a little: \(a[key]![0]) vs \(off[key]![0])")
    }

    @Test func pluginsListsMetricsAndTheFactorization() throws {
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["plugins"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("metric: ROADMostRelevantFirst, ROADLeastRelevantFirst, ROADMostRelevantFirstAverage, ROADLeastRelevantFirstAverage, ROADCombined"), "\(r.stdout)")
        #expect(r.stdout.contains("metric: CamMultImageConfidenceChange, DropInConfidence, IncreaseInConfidence"))
        #expect(r.stdout.contains("metric: RemoveMostRelevantFirst, RemoveLeastRelevantFirst, AveragerAcrossThresholds"))
        #expect(r.stdout.contains("metric: Complexity, Coherency, ARCC"))
        #expect(r.stdout.contains("factorization: dff"))
    }

    func expectUsageError(_ extra: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try CommandRunner.temporaryFolder("metricfail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("m.json").path
        guard let r = try explain(extra + ["--metrics-json", json]) else { return }
        #expect(r.status == 2, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(message), "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: json), "nothing is written when a run fails", sourceLocation: sourceLocation)
    }

    @Test func badMetricListsAreUsageErrors() throws {
        try expectUsageError(["--metrics", "NoSuchMetric"], "no plugin provides metric 'NoSuchMetric'; available:")
        try expectUsageError(["--metrics", "ROADMostRelevantFirst(80"], "expected ')'")
        try expectUsageError(["--metrics", "RemoveMostRelevantFirst"], "needs percentile")
        try expectUsageError(["--metrics", "ROADMostRelevantFirst(150)"], "must be a percentile in [0, 100] or 'auto'")
        try expectUsageError(["--metrics", "ROADCombined(percentile=[1,2])"], "no parameter 'percentile'")
        try expectUsageError(["--metrics", "Complexity(3)"], "takes at most 0 arguments")
        try expectUsageError(["--metrics", "AveragerAcrossThresholds(Complexity)"], "takes at most 0 arguments")
        try expectUsageError(["--metrics", "ARCC", "--metric-target", "probability"], "--metric-target must be logit, softmax or cam")
        try expectUsageError(["--metrics", "ARCC", "--road-noise=-1"], "--road-noise must be ≥ 0")
        try expectUsageError(["--npy", "/dev/null"], "--metrics-json needs --metrics")
    }
}
