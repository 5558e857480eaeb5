import CAMCore
import Foundation
import Testing
import TestSupport

/// The metric machinery beyond the reference values: the spelling of calls and keys, the
/// imputer on small images, and metrics on a channels-last (Keras) model.
@Suite("Metric calls, imputer and layouts")
struct MetricBehaviourTests {
    @Test func callsParseAsPythonWritesThem() throws {
        let calls = try MetricCall.parseList(" ROADMostRelevantFirst(80), RemoveMostRelevantFirst('auto'),ROADCombined(percentiles=[20, 40,60,80]) ,ARCC,"
            + "AveragerAcrossThresholds(RemoveLeastRelevantFirst, percentiles=[25,50,75]),Coherency(base_method=gradcam++),x(12.5)")
        #expect(calls.map(\.name) == ["ROADMostRelevantFirst", "RemoveMostRelevantFirst", "ROADCombined", "ARCC", "AveragerAcrossThresholds", "Coherency", "x"])
        #expect(calls[0].positional == [.number(80)])
        #expect(calls[1].positional == [.string("auto")])
        #expect(calls[2].named["percentiles"] == .list([.number(20), .number(40), .number(60), .number(80)]))
        #expect(calls[4].positional == [.identifier("RemoveLeastRelevantFirst")])
        #expect(calls[5].named["base_method"] == .identifier("gradcam++"))
        #expect(calls[6].positional == [.number(12.5)])
        #expect(MetricValue.list([.number(20), .number(12.5)]).description == "[20,12.5]")
        for bad in ["ROAD(", "ROAD(80", "(80)", "ROAD(percentile=80, 20)", "ROAD(a=1, a=2)", "ROAD('auto)", "ROAD,,ARCC", "ROAD(1e)"] {
            #expect(throws: CAMError.self, "\(bad)") { try MetricCall.parseList(bad) }
        }
    }

    @Test func keysFillInUpstreamsDefaults() throws {
        Fixtures.loadPlugins()
        guard (try? PluginRegistry.shared.metric(named: "ROADCombined")) != nil else { return }
        func key(_ text: String) throws -> String { try PluginRegistry.shared.metric(named: try MetricCall.parse(text).name).key(for: try MetricCall.parse(text)) }
        #expect(try key("roadmostrelevantfirst") == "ROADMostRelevantFirst(80)")
        #expect(try key("ROADLeastRelevantFirst(percentile=30)") == "ROADLeastRelevantFirst(30)")
        #expect(try key("RemoveLeastRelevantFirst(auto)") == "RemoveLeastRelevantFirst('auto')")
        #expect(try key("ROADCombined") == "ROADCombined()")
        #expect(try key("ROADCombined(percentiles=[10,20,30,40,50,60,70,80,90])") == "ROADCombined()")
        #expect(try key("ROADMostRelevantFirstAverage([20,40])") == "ROADMostRelevantFirstAverage(percentiles=[20,40])")
        #expect(try key("AveragerAcrossThresholds(removemostrelevantfirst)") == "AveragerAcrossThresholds(RemoveMostRelevantFirst, percentiles=[10,20,30,40,50,60,70,80,90])")
        #expect(try key("arcc(road_percentiles=[20,80])") == "ARCC(road_percentiles=[20,80])")
        #expect(try key("Coherency(base_method=GradCAM)") == "Coherency(base_method=gradcam)")
        #expect(throws: CAMError.self) { try key("RemoveMostRelevantFirst") }
        #expect(throws: CAMError.self) { try key("ROADCombined(percentiles=[])") }
        #expect(throws: CAMError.self) { try key("Coherency(base_method=nosuchcam)") }
    }

    @Test func imputerFillsHarmonicallyAndKeepsKeptPixels() throws {
        // A linear ramp is harmonic for the 8-neighbour stencil: imputing its interior gives it back.
        let (h, w) = (9, 11)
        let image = (0..<(2 * h * w)).map { i -> Float in
            let (c, p) = (i / (h * w), i % (h * w))
            return Float(p % w) * 0.3 + Float(p / w) * (c == 0 ? 0.5 : -0.2) + 1
        }
        var keep = [Float](repeating: 1, count: h * w)
        for y in 2..<7 { for x in 3..<9 { keep[y * w + x] = 0 } }
        let filled = try NoisyLinearImputer.fill(image, channels: 2, height: h, width: w, keep: keep)
        #expect(zip(filled, image).allSatisfy { abs($0 - $1) < 1e-5 })
        // Kept pixels are untouched; with noise only the imputed ones move, by about σ.
        var generator = GaussianNoise(seed: 3)
        let noisy = try NoisyLinearImputer(noise: 0.5).impute(image, channels: 2, height: h, width: w, keep: keep, generator: &generator)
        for c in 0..<2 {
            for p in 0..<(h * w) where keep[p] == 1 { #expect(noisy[c * h * w + p] == image[c * h * w + p]) }
        }
        var squares = 0.0, count = 0
        for c in 0..<2 {
            for p in 0..<(h * w) where keep[p] == 0 {
                let d = Double(noisy[c * h * w + p] - filled[c * h * w + p])
                squares += d * d
                count += 1
            }
        }
        let sd = (squares / Double(count)).squareRoot()
        #expect(sd > 0.3 && sd < 0.7, "noise sd \(sd)")
        // Nothing kept: zeros, as scipy's spsolve returns for the singular system.
        let none = try NoisyLinearImputer.fill(image, channels: 2, height: h, width: w, keep: [Float](repeating: 0, count: h * w))
        #expect(none.allSatisfy { $0 == 0 })
        // A removed band two rows high across the image is numbered column by column (the
        // narrower band of the matrix); every imputed pixel is then the weighted mean of its
        // in-image neighbours.
        var column = [Float](repeating: 1, count: h * w)
        for x in 0..<w { column[4 * w + x] = 0; column[5 * w + x] = 0 }
        column[6 * w + 2] = 0
        let byColumn = try NoisyLinearImputer.fill(image, channels: 2, height: h, width: w, keep: column)
        #expect(Self.worstResidual(byColumn, channels: 2, height: h, width: w, keep: column) < 1e-5)
        #expect(Self.worstResidual(filled, channels: 2, height: h, width: w, keep: keep) < 1e-5)
    }

    /// max over imputed pixels of |value − weighted mean of its in-image neighbours|.
    static func worstResidual(_ v: [Float], channels: Int, height h: Int, width w: Int, keep: [Float]) -> Double {
        var worst = 0.0
        for c in 0..<channels {
            for p in 0..<(h * w) where keep[p] == 0 {
                var sum = 0.0, weights = 0.0
                for nb in NoisyLinearImputer.neighbours {
                    let (y, x) = (p / w + nb.dy, p % w + nb.dx)
                    guard y >= 0, y < h, x >= 0, x < w else { continue }
                    sum += nb.weight * Double(v[c * h * w + y * w + x])
                    weights += nb.weight
                }
                worst = Swift.max(worst, abs(Double(v[c * h * w + p]) - sum / weights))
            }
        }
        return worst
    }

    @Test func percentilesAndOtsuFollowNumpyAndOpenCV() {
        #expect(RelevanceMask.percentile([1, 2, 3, 4], 50) == 2.5)
        #expect(RelevanceMask.percentile([4, 1, 3, 2], 25) == 1.75)
        #expect(RelevanceMask.percentile([5], 80) == 5)
        // Two clusters: Otsu splits between them.
        let pixels = [UInt8](repeating: 20, count: 50) + [UInt8](repeating: 200, count: 50)
        let t = RelevanceMask.otsuThreshold(pixels)
        #expect(t >= 20 && t < 200)
        #expect(RelevanceMask.otsuThreshold([UInt8](repeating: 7, count: 10)) == 0, "a constant image gives 0, as OpenCV")
        // 'auto' keeps (255) the pixels above the threshold, percentiles keep (1) those below.
        let cam: [Float] = [0, 0.1, 0.9, 1]
        #expect(RelevanceMask.keepMask(cam: cam, order: .mostRelevantFirst, threshold: .auto) == [0, 0, 255, 255])
        #expect(RelevanceMask.keepMask(cam: cam, order: .mostRelevantFirst, threshold: .percentile(50)) == [1, 1, 0, 0])
        #expect(RelevanceMask.keepMask(cam: cam, order: .leastRelevantFirst, threshold: .percentile(50)) == [0, 0, 1, 1])
    }

    @Test func metricsRunOnChannelsLastModels() throws {
        guard let path = Fixtures.path("keras/small_cnn/model.h5") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: path)
        #expect(model.inputLayout == .nhwc)
        let input = try Fixtures.npy("keras/small_cnn/input.npy") // (2, 64, 64, 3)
        let request = CAMRequest(method: try PluginRegistry.shared.method(named: "gradcam"), targetLayers: ["relu2"], categories: [3, 7])
        let result = try CAMExplainer(model: model).explain(input, request)
        let cams = try #require(result.maps)
        let context = try MetricContext(model: model, input: input, cams: cams, targets: result.targets, imputerNoise: 0, camRequest: request)
        // input × cam, every channel, in the model's NHWC layout.
        let mixed = input.copy()
        let (n, h, w, c) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        for i in 0..<n { for p in 0..<(h * w) { for ch in 0..<c { mixed.mutableFloats[(i * h * w + p) * c + ch] *= cams.floats[i * h * w + p] } } }
        let expected = try context.scores(for: mixed).enumerated().map { $0.element - (try context.baselineScores())[$0.offset] }
        let change = try context.evaluate(MetricCall.parse("CamMultImageConfidenceChange"))
        #expect(zip(change, expected).allSatisfy { abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) }, "\(change) vs \(expected)")
        // Imputation keeps the kept pixels of the NHWC input.
        let imputed = try context.imputedBatch(order: .mostRelevantFirst, threshold: .percentile(80))
        for i in 0..<n {
            let keep = context.keepMask(image: i, order: .mostRelevantFirst, threshold: .percentile(80))
            for p in 0..<(h * w) where keep[p] > 0.5 {
                for ch in 0..<c { #expect(imputed.floats[(i * h * w + p) * c + ch] == input.floats[(i * h * w + p) * c + ch]) }
            }
        }
        for name in ["ROADCombined(percentiles=[20,80])", "ARCC(road_percentiles=[50])", "RemoveLeastRelevantFirst('auto')"] {
            let s = try context.evaluate(MetricCall.parse(name))
            #expect(s.count == 2 && s.allSatisfy(\.isFinite), "\(name): \(s)")
        }
    }
}
