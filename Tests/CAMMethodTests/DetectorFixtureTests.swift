import CAMCore
import Foundation
import Testing
import TestSupport

/// The real pretrained detectors of the shared fixtures: PaddleOCR v4's DBNet text detector
/// (a per-pixel probability map, explained with a segmentation target) and PP-PicoDet's
/// document-layout detector (explained with its class scores; decoded into boxes).
@Suite("Real detectors match onnxruntime and pytorch-grad-cam")
struct DetectorFixtureTests {
    static let dbnet = "real/ppocrv4_det_dbnet"
    static let picodet = "real/picodet_layout_cdla"

    struct Case: CustomStringConvertible, Sendable {
        let fixture: String
        let method: String
        let reference: String
        var description: String { "\(method) → \(reference) on \(fixture)" }
    }

    static let methods = [("gradcam", "GradCAM"), ("gradcam++", "GradCAMPlusPlus"), ("hirescam", "HiResCAM"), ("layercam", "LayerCAM"), ("eigencam", "EigenCAM")]
    static let cases = [dbnet, picodet].flatMap { f in methods.map { Case(fixture: f, method: $0.0, reference: $0.1) } }

    /// The model, or nil when the fixture is absent.
    static func model(_ fixture: String) throws -> Model? {
        guard let path = Fixtures.path("\(fixture)/model.onnx") else { return nil }
        Fixtures.loadPlugins()
        return try Model.load(path: path)
    }

    /// The target the fixture's manifest spells as `swiftcam` flags (`swiftcam_target_args`).
    static func targetSpec(_ fixture: String) throws -> TargetSpec {
        let manifest = try Fixtures.json("\(fixture)/manifest.json")
        let args = try #require(manifest["swiftcam_target_args"] as? [String])
        let text = args[1].replacingOccurrences(of: "{dir}", with: Fixtures.root.appendingPathComponent(fixture).path)
        let colon = text.firstIndex(of: ":")!
        let name = String(text[..<colon]), rest = String(text[text.index(after: colon)...])
        var options: [String: String]
        switch name {
        case "outputs": options = ["entries": rest]
        case "segmentation":
            let parts = rest.split(separator: ":", maxSplits: 1).map(String.init)
            options = ["category": parts[0], "mask": parts[1]]
        default: throw CAMError(.usage, "unexpected target \(name)")
        }
        return TargetSpec(factory: try #require(PluginRegistry.shared.target(named: name)), options: options)
    }

    static func layer(_ fixture: String) throws -> String {
        let manifest = try Fixtures.json("\(fixture)/manifest.json")
        return try #require((manifest["target_layer"] as? [String: Any])?["onnx_tensor"] as? String)
    }

    @Test(arguments: [(dbnet, Float(5e-4)), (picodet, Float(1e-4))])
    func forwardMatchesOnnxruntime(_ fixture: String, _ tolerance: Float) throws {
        guard let model = try Self.model(fixture) else { return }
        let reference = try Fixtures.json("\(fixture)/reference.json")
        let expected = try #require(reference["outputs"] as? [String: String])
        let outputs = try model.predict(try Fixtures.npy("\(fixture)/input.npy"))
        let names = model.graph.outputs.map { model.graph.name(of: $0) }
        #expect(Set(names) == Set(expected.keys))
        for (name, out) in zip(names, outputs) {
            let ref = try Fixtures.npy("\(fixture)/\(expected[name]!)")
            #expect(out.shape == ref.shape, "\(name)")
            let e = Compare.maxAbs(out, ref)
            print("\(fixture) \(name): max |Δ| \(e)")
            #expect(e <= tolerance, "\(fixture) output \(name): max |Δ| \(e) > \(tolerance)")
        }
    }

    @Test(arguments: cases)
    func methodMatchesPytorchGradCAM(_ c: Case) throws {
        guard Fixtures.path("\(c.fixture)/\(c.reference)_raw.npy") != nil || Fixtures.path("\(c.fixture)/\(c.reference).npy") != nil,
              let model = try Self.model(c.fixture) else { return }
        var request = CAMRequest(method: try PluginRegistry.shared.method(named: c.method), targetLayers: [try Self.layer(c.fixture)])
        request.perImageTargets = [try Self.targetSpec(c.fixture)]
        let r = try CAMExplainer(model: model).explain(try Fixtures.npy("\(c.fixture)/input.npy"), request)
        // GradCAM++ on DBNet is chaotic: its α = g² / (2g² + Σ A · g³ + 1e-6) has a pole that
        // thousands of pixels sit close to, so the map moves by percents with any change of
        // float32 rounding (upstream's own moves by ~1 % in float64). The issue accepts 0.02 there;
        // measured 0.0089 with OpenBLAS's SkylakeX kernels, 0.0176 with its Haswell kernels
        // (OPENBLAS_CORETYPE=Haswell), 0.024 with F(2×2) Winograd or im2col convolutions.
        if c.fixture == Self.dbnet && c.method == "gradcam++" {
            let maps = try #require(r.maps)
            #expect(maps.toFloats().allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
            let m = Compare.mapsMatch(maps, try Fixtures.npy("\(c.fixture)/\(c.reference).npy"), maxDelta: 0.02)
            print("\(c) (chaotic, held to 0.02): final \(m.report), raw relative \(Compare.relative(r.layerMaps[0].raw, try Fixtures.npy("\(c.fixture)/\(c.reference)_raw.npy")))")
            #expect(m.ok, "final maps: \(m.report) (max |Δ| allowed 0.02)")
            return
        }
        try Self.compare(r, fixture: c.fixture, stem: c.reference, maxDelta: 0.01, relative: 1e-3, label: "\(c)")
        if c.method == "eigencam" { #expect(r.targets[0] is NoTarget) }
    }

    /// Final maps (Pearson ≥ 0.999, max |Δ| ≤ `maxDelta`), raw maps and weights (≤ `relative`
    /// of the reference's largest magnitude), for the files that exist.
    static func compare(_ r: (maps: Tensor?, raw: Tensor?, weights: Tensor?), fixture: String, stem: String, maxDelta: Float, relative: Float, label: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        if Fixtures.path("\(fixture)/\(stem).npy") != nil {
            let m = Compare.mapsMatch(try #require(r.maps), try Fixtures.npy("\(fixture)/\(stem).npy"), maxDelta: maxDelta)
            print("\(label): final \(m.report)")
            #expect(m.ok, "final maps: \(m.report) (max |Δ| allowed \(maxDelta))", sourceLocation: sourceLocation)
        }
        if Fixtures.path("\(fixture)/\(stem)_raw.npy") != nil {
            let e = Compare.relative(try #require(r.raw), try Fixtures.npy("\(fixture)/\(stem)_raw.npy"))
            print("\(label): raw relative \(e)")
            #expect(e <= relative, "raw map relative error \(e)", sourceLocation: sourceLocation)
        }
        if Fixtures.path("\(fixture)/\(stem)_weights.npy") != nil {
            let e = Compare.relative(try #require(r.weights), try Fixtures.npy("\(fixture)/\(stem)_weights.npy"))
            print("\(label): weights relative \(e)")
            #expect(e <= relative, "weights relative error \(e)", sourceLocation: sourceLocation)
        }
    }

    static func compare(_ r: CAMResult, fixture: String, stem: String, maxDelta: Float, relative: Float, label: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        try compare((r.maps, r.layerMaps.first?.raw, r.layerMaps.first?.weights), fixture: fixture, stem: stem, maxDelta: maxDelta,
                    relative: relative, label: label, sourceLocation: sourceLocation)
    }

    /// The target's value, as upstream computed it (`targets.value_torch` in the manifest).
    @Test(arguments: [dbnet, picodet])
    func targetValueMatches(_ fixture: String) throws {
        guard let model = try Self.model(fixture) else { return }
        let outputs = try model.predict(try Fixtures.npy("\(fixture)/input.npy"))
        let spec = try Self.targetSpec(fixture)
        let input = TargetInput(category: nil, options: spec.options, outputs: outputs.map { $0.batchItem(0) },
                                outputNames: model.graph.outputs.map { model.graph.name(of: $0) }, imageIndex: 0, inputHeight: 0, inputWidth: 0)
        let value = try spec.factory.makeTarget(input).evaluate(outputs: input.outputs).value
        let expected = try #require((try Fixtures.json("\(fixture)/manifest.json")["targets"] as? [String: Any])?["value_torch"] as? Double)
        #expect(abs(Double(value) - expected) <= 1e-5 * Swift.max(1, abs(expected)), "target value \(value), upstream \(expected)")
    }

    /// PP-PicoDet decoded with the package's decoding (score > 0.5, reg_max 7, strides
    /// 8/16/32/64, per-class greedy NMS at IoU 0.5): the same detections as
    /// `decoded_detections.json` (its boxes are in the 1216×1600 original, twice the input).
    @Test func picodetDetectionsEqualTheReference() throws {
        guard let model = try Self.model(Self.picodet) else { return }
        let meta = try Fixtures.json("\(Self.picodet)/meta.json")
        let labels = try #require(meta["labels"] as? [String])
        let input = try Fixtures.npy("\(Self.picodet)/input.npy")
        let outputs = try model.predict(input)
        let names = model.graph.outputs.map { model.graph.name(of: $0) }
        let data = try #require(FileManager.default.contents(atPath: Fixtures.path("\(Self.picodet)/decoded_detections.json")!))
        let expected = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let manifest = try Fixtures.json("\(Self.picodet)/manifest.json")
        let anchors = try #require((manifest["targets"] as? [String: Any])?["all_decoded_detections_with_anchors"] as? [[String: Any]])
        let factory = try #require(PluginRegistry.shared.target(named: "boxes"))
        for decoder in ["picodet", "picodet:score=0.5:nms=0.5:reg-max=7:strides=8,16,32,64"] {
            let target = try factory.makeTarget(TargetInput(category: nil, options: ["decoder": decoder], outputs: outputs.map { $0.batchItem(0) },
                                                            outputNames: names, imageIndex: 0, inputHeight: 800, inputWidth: 608))
            let found = try #require(target as? any BoxTarget).detections
            #expect(found.count == expected.count, "\(found.count) detections, expected \(expected.count)")
            for (k, (d, e)) in zip(found, expected).enumerated() {
                #expect(labels[d.classIndex] == e["label"] as? String, "detection \(k)")
                let score = (e["score"] as! NSNumber).floatValue
                #expect(abs(d.score - score) <= 1e-4, "detection \(k): score \(d.score), expected \(score)")
                let orig = (e["box_xyxy_orig"] as! [NSNumber]).map(\.floatValue)
                for j in 0..<4 { #expect(abs(d.box[j] * 2 - orig[j]) <= 1, "detection \(k) coordinate \(j): \(d.box[j] * 2) vs \(orig[j])") }
                // The unrounded reference (the manifest's decode of the onnxruntime outputs).
                let a = anchors[k]
                #expect(abs(d.score - (a["score_ort"] as! NSNumber).floatValue) <= 1e-4)
                let precise = (a["box_xyxy_input"] as! [NSNumber]).map(\.floatValue)
                for j in 0..<4 { #expect(abs(d.box[j] - precise[j]) <= 0.05, "detection \(k) coordinate \(j): \(d.box[j]) vs \(precise[j])") }
            }
        }
    }

    /// The boxes target on PicoDet, through the DFL box branch and the class scores: against
    /// central differences of the outputs at the three detections' scores and 3 × 32 box bins,
    /// for its own detections (each at its IoU maximum: only the scores have a gradient) and for
    /// reference boxes shifted by a few pixels (the IoU's gradient reaches the bins).
    @Test func picodetBoxesTargetGradient() throws {
        guard let model = try Self.model(Self.picodet) else { return }
        let input = try Fixtures.npy("\(Self.picodet)/input.npy")
        let outputs = try model.predict(input).map { $0.batchItem(0) }
        let names = model.graph.outputs.map { model.graph.name(of: $0) }
        let factory = try #require(PluginRegistry.shared.target(named: "boxes"))
        func target(_ options: [String: String]) throws -> any Target {
            try factory.makeTarget(TargetInput(category: nil, options: options, outputs: outputs, outputNames: names, imageIndex: 0,
                                               inputHeight: 800, inputWidth: 608))
        }
        let own = try target(["decoder": "picodet", "top": "3"])
        let explained = try #require(own as? any BoxTarget).explainedBoxes
        #expect(explained.map(\.classIndex) == [0, 0, 9])
        #expect(abs(try own.evaluate(outputs: outputs).value - (3 + 0.9785144 + 0.9715372 + 0.9473225)) <= 1e-4)
        let dir = try CommandRunner.temporaryFolder("picodet-boxes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let shifted = dir.appendingPathComponent("shifted.json")
        try JSONSerialization.data(withJSONObject: explained.map { ["box": [$0.box[0] + 3, $0.box[1] - 2, $0.box[2] + 4, $0.box[3] + 1], "class": $0.classIndex] })
            .write(to: shifted)
        let moved = try target(["decoder": "picodet", "file": shifted.path])
        #expect(try #require(moved as? any BoxTarget).explainedBoxes.count == 3)
        // (output, flat offset) of the scores and bins of anchors 24 and 83 (stride 64) and 183 (stride 32).
        let k = { (name: String) in names.firstIndex(of: name)! }
        var entries = [(k("transpose_6.tmp_0"), 24 * 10), (k("transpose_6.tmp_0"), 83 * 10), (k("transpose_4.tmp_0"), 183 * 10 + 9)]
        for (name, row) in [("transpose_7.tmp_0", 24), ("transpose_7.tmp_0", 83), ("transpose_5.tmp_0", 183)] {
            entries += (0..<32).map { (k(name), row * 32 + $0) }
        }
        for (label, t) in [("own", own), ("shifted", moved)] {
            let e = try t.evaluate(outputs: outputs)
            var binGradient: Float = 0
            for (o, i) in entries {
                var plus = outputs, minus = outputs
                plus[o] = outputs[o].copy(); minus[o] = outputs[o].copy()
                plus[o].mutableFloats[i] += 1e-2
                minus[o].mutableFloats[i] -= 1e-2
                let numeric = (try t.evaluate(outputs: plus).value - t.evaluate(outputs: minus).value) / 2e-2
                let analytic = e.outputGradients[o]?.floats[i] ?? 0
                #expect(abs(numeric - analytic) <= 2e-3 + 1e-2 * abs(numeric), "\(label): \(names[o])[\(i)]: analytic \(analytic), numeric \(numeric)")
                if outputs[o].shape.last == 32 { binGradient = Swift.max(binGradient, abs(analytic)) }
            }
            #expect(label == "own" ? binGradient <= 1e-4 : binGradient >= 1e-2, "\(label): largest bin gradient \(binGradient)")
        }
        // Through the explainer: a finite, non-trivial map at the stride-32 neck.
        var request = CAMRequest(method: try PluginRegistry.shared.method(named: "gradcam"), targetLayers: [try Self.layer(Self.picodet)])
        request.perImageTargets = [TargetSpec(factory: factory, options: ["decoder": "picodet", "file": shifted.path])]
        let r = try CAMExplainer(model: model).explain(input, request)
        #expect(r.maps!.toFloats().allSatisfy { $0.isFinite } && r.maps!.toFloats().contains { $0 > 0.5 })
    }
}

