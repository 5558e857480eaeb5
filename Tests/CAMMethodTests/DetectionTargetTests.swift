import CAMCore
import Foundation
import Testing
import TestSupport

/// The segmentation, outputs and boxes targets (the detection-targets plugin) on small graphs
/// built here, with answers known in closed form.
@Suite("Detection and segmentation targets")
struct DetectionTargetTests {
    static func factory(_ name: String) throws -> any TargetFactory {
        Fixtures.loadPlugins()
        return try #require(PluginRegistry.shared.target(named: name), "the detection-targets plugin provides '\(name)'")
    }

    static func method(_ name: String) throws -> any CAMMethod {
        Fixtures.loadPlugins()
        return try PluginRegistry.shared.method(named: name)
    }

    static func input(_ outputs: [Tensor], names: [String] = ["output0"], options: [String: String], image: Int = 0, size: (Int, Int) = (0, 0),
                      category: Int? = nil) -> TargetInput {
        TargetInput(category: category, options: options, outputs: outputs, outputNames: names, imageIndex: image, inputHeight: size.0, inputWidth: size.1)
    }

    // MARK: Segmentation

    /// x (N, 2, H, W) → 1×1 conv → A (N, 4, H, W), the target layer → 1×1 conv (weights `head`)
    /// [→ sigmoid] → the segmentation output.
    static func segmentationModel(classes: Int, sigmoid: Bool) throws -> (Model, head: Tensor) {
        var rng = SplitMix(seed: 77)
        var g = Graph()
        let x = try g.addValue("x")
        g.inputs = [x]
        let w1 = g.addConstant("w1", rng.tensor([4, 2, 1, 1])), head = rng.tensor([classes, 4, 1, 1], -2, 2)
        let w2 = g.addConstant("w2", head)
        let a = try g.addValue("A"), logits = try g.addValue("logits")
        g.nodes = [
            Node(name: "conv1", op: Convolution(), inputs: [x, w1], outputs: [a]),
            Node(name: "conv2", op: Convolution(), inputs: [a, w2], outputs: [logits]),
        ]
        g.outputs = [logits]
        if sigmoid {
            let p = try g.addValue("probability")
            g.nodes.append(Node(name: "sigmoid", op: Unary(.sigmoid), inputs: [logits], outputs: [p]))
            g.outputs = [p]
        }
        return (try Model(graph: g, source: "segmentation"), head)
    }

    /// Upstream's segmentation tutorial: the mask is argmax == category on multi-class logits,
    /// the target Σ logits[category] · mask; Grad-CAM's weights are then W[k, c]·|mask|/(h·w).
    @Test func multiClassLogitsWithTheArgmaxMask() throws {
        let (model, head) = try Self.segmentationModel(classes: 3, sigmoid: false)
        var rng = SplitMix(seed: 78)
        let x = rng.tensor([2, 2, 5, 6])
        let (h, w) = (5, 6)
        let k = 1
        let request = CAMRequest(method: try Self.method("gradcam"), targetLayers: ["A"], targetFactory: try Self.factory("segmentation"),
                                 targetOptions: ["category": "\(k)"])
        let r = try CAMExplainer(model: model).explain(x, request)
        let logits = r.outputs[0], a = r.layers[0].activations
        for i in 0..<2 {
            let t = r.targets[i]
            // The mask is argmax == k: the target's gradient on plane k.
            var mask = [Float](repeating: 0, count: h * w), value: Float = 0
            for p in 0..<(h * w) {
                let scores = (0..<3).map { logits.floats[((i * 3) + $0) * h * w + p] }
                if scores.indices.max(by: { scores[$0] < scores[$1] }) == k { mask[p] = 1; value += scores[k] }
            }
            #expect(!mask.allSatisfy { $0 == 0 } && !mask.allSatisfy { $0 == 1 }, "the test needs a mixed mask")
            let e = try t.evaluate(outputs: r.outputs.map { $0.batchItem(i) })
            #expect(e.outputGradients[0]!.toFloats() == [Float](repeating: 0, count: h * w) + mask + [Float](repeating: 0, count: h * w))
            #expect(abs(e.value - value) <= 1e-4 * Swift.max(1, abs(value)))
            // Grad-CAM in closed form.
            let count = mask.reduce(0, +) / Float(h * w)
            let weights = (0..<4).map { c in head.floats[k * 4 + c] * count }
            #expect(Compare.maxAbs(r.layerMaps[0].weights!.batchItem(i), Tensor(shape: [4], floats: weights)) <= 1e-5)
            let raw = (0..<(h * w)).map { p in (0..<4).reduce(Float(0)) { $0 + weights[$1] * a.floats[((i * 4) + $1) * h * w + p] } }
            #expect(Compare.maxAbs(r.layerMaps[0].raw.batchItem(i), Tensor(shape: [h, w], floats: raw)) <= 1e-5)
        }
        #expect(r.maps!.toFloats().allSatisfy { $0.isFinite })
    }

    /// A single-channel probability map with a threshold (a text detector's output): the mask is
    /// p > threshold, and the gradient at A is W[c]·p(1 − p)·mask (checked through HiResCAM).
    @Test func singleChannelProbabilityWithAThreshold() throws {
        let (model, head) = try Self.segmentationModel(classes: 1, sigmoid: true)
        var rng = SplitMix(seed: 79)
        let x = rng.tensor([1, 2, 6, 4])
        let (h, w) = (6, 4)
        let request = CAMRequest(method: try Self.method("hirescam"), targetLayers: ["A"], targetFactory: try Self.factory("segmentation"),
                                 targetOptions: ["threshold": "0.5"])
        let r = try CAMExplainer(model: model).explain(x, request)
        let p = r.outputs[0].toFloats(), a = r.layers[0].activations.toFloats()
        let mask = p.map { $0 > 0.5 ? Float(1) : 0 }
        #expect(mask.contains(1) && mask.contains(0), "the test needs a mixed mask")
        let t = try #require(r.targets[0] as? any GraphTarget)
        #expect(try t.evaluate(outputs: [r.outputs[0].batchItem(0)]).outputGradients[0]!.toFloats() == mask)
        let g = r.layers[0].gradients!.toFloats()
        var raw = [Float](repeating: 0, count: h * w)
        for c in 0..<4 {
            for q in 0..<(h * w) {
                let expected = head.floats[c] * p[q] * (1 - p[q]) * mask[q]
                #expect(abs(g[c * h * w + q] - expected) <= 1e-6)
                raw[q] += expected * a[c * h * w + q]
            }
        }
        #expect(Compare.maxAbs(r.layerMaps[0].raw, Tensor(shape: [1, h, w], floats: raw)) <= 1e-5)
        // The graph form of the target (used by ShapleyCAM) scores the same.
        let e = try t.evaluate(outputs: [r.outputs[0].batchItem(0)])
        var graph = Graph()
        let o = try graph.addValue("o")
        graph.inputs = [o]
        var b = GradientBuilder(graph: graph)
        let s = try t.score(&b, outputs: [o])
        let v = try Executor(b.graph).evaluate([o: r.outputs[0].batchItem(0)], fetch: [s])[0]
        #expect(abs(v.toFloats()[0] - e.value) <= 1e-4)
        let shapley = try CAMExplainer(model: model).explain(x, CAMRequest(method: try Self.method("shapleycam"), targetLayers: ["A"],
                                                                             targetFactory: try Self.factory("segmentation"), targetOptions: ["threshold": "0.5"]))
        #expect(shapley.maps!.toFloats().allSatisfy { $0.isFinite })
    }

    /// A mask given as a file (.npy weights, or a PNG whose nonzero pixels are in).
    @Test func masksFromFiles() throws {
        let (model, _) = try Self.segmentationModel(classes: 3, sigmoid: false)
        var rng = SplitMix(seed: 80)
        let x = rng.tensor([1, 2, 3, 4])
        let dir = try CommandRunner.temporaryFolder("masks")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mask: [Float] = [0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
        let npy = dir.appendingPathComponent("m.npy").path
        try NPY.encode(Tensor(shape: [3, 4], floats: mask)).write(to: URL(fileURLWithPath: npy))
        let png = dir.appendingPathComponent("m.png").path
        try RGBImage(width: 4, height: 3, grey: mask.map { $0 == 1 ? 255 : 0 }).write(png: png)
        for path in [npy, png] {
            let outputs = try model.predict(x).map { $0.batchItem(0) }
            let t = try Self.factory("segmentation").makeTarget(Self.input(outputs, options: ["category": "2", "mask": path]))
            let e = try t.evaluate(outputs: outputs)
            let logits = outputs[0].toFloats()
            let expected = mask.indices.reduce(Float(0)) { $0 + mask[$1] * logits[2 * 12 + $1] }
            #expect(abs(e.value - expected) <= 1e-5)
            #expect(e.outputGradients[0]!.toFloats() == [Float](repeating: 0, count: 24) + mask)
        }
        #expect(throws: CAMError.self) { try Self.factory("segmentation").makeTarget(Self.input(try model.predict(x).map { $0.batchItem(0) }, options: ["category": "3"])) }
        let wrong = dir.appendingPathComponent("w.npy").path
        try NPY.encode(Tensor(zeros: [4, 4])).write(to: URL(fileURLWithPath: wrong))
        #expect(throws: CAMError.self) { try Self.factory("segmentation").makeTarget(Self.input(try model.predict(x).map { $0.batchItem(0) }, options: ["mask": wrong])) }
    }

    /// No pixel in the mask: the score is 0, the CAM all zeros (never NaN) with a warning, for
    /// gradient methods and for those that score masked inputs.
    @Test(arguments: ["gradcam", "gradcam++", "hirescam", "layercam", "xgradcam", "eigengradcam", "scorecam"])
    func anEmptyMaskGivesAZeroMapAndAWarning(_ method: String) throws {
        let (model, _) = try Self.segmentationModel(classes: 1, sigmoid: true)
        var rng = SplitMix(seed: 81)
        let x = rng.tensor([2, 2, 5, 5])
        let request = CAMRequest(method: try Self.method(method), targetLayers: ["A"], targetFactory: try Self.factory("segmentation"),
                                 targetOptions: ["threshold": "1.5"])
        let r = try CAMExplainer(model: model).explain(x, request)
        #expect(r.maps!.toFloats().allSatisfy { $0 == 0 })
        #expect(r.warnings.count == 2 && r.warnings.allSatisfy { $0.contains("selects nothing") && $0.contains("no pixel") }, "\(r.warnings)")
        for t in r.targets { #expect(try t.evaluate(outputs: r.outputs.map { $0.batchItem(0) }).value == 0) }
    }

    /// EigenCAM needs no target: none is built, whatever the model's outputs are.
    @Test func eigenCAMRunsWithoutATarget() throws {
        let (model, _) = try Self.segmentationModel(classes: 1, sigmoid: true)
        var rng = SplitMix(seed: 82)
        let r = try CAMExplainer(model: model).explain(rng.tensor([1, 2, 5, 5]), CAMRequest(method: try Self.method("eigencam"), targetLayers: ["A"]))
        #expect(r.targets[0] is NoTarget)
        #expect(r.maps!.toFloats().contains { $0 > 0 })
    }

    // MARK: Outputs

    /// x → ×2 (1×1 conv) → y (N, 1, 2, 3), the only output.
    static func doublingModel() throws -> Model {
        var g = Graph()
        let x = try g.addValue("x")
        g.inputs = [x]
        let w = g.addConstant("w", Tensor(shape: [1, 1, 1, 1], floats: [2]))
        let y = try g.addValue("y")
        g.nodes = [Node(name: "conv", op: Convolution(), inputs: [x, w], outputs: [y])]
        g.outputs = [y]
        return try Model(graph: g, source: "doubling")
    }

    @Test func outputEntriesByBatchIndexStarAndPerImage() throws {
        let model = try Self.doublingModel()
        let x = Tensor(shape: [2, 1, 2, 3], floats: (0..<12).map(Float.init))
        let request = CAMRequest(method: try Self.method("gradcam"), targetLayers: ["y"], targetFactory: try Self.factory("outputs"),
                                 targetOptions: ["entries": "y[0,0,1,2]+y[*,0,0,1]+y[0,1,1]+y[1,0,0,0]"])
        let r = try CAMExplainer(model: model).explain(x, request)
        // Image 0: y[0,0,1,2] + y[0,0,0,1] + y[0,0,1,1] = 2·(5 + 1 + 4); image 1: y[1,0,0,1] + y[1,0,1,1] + y[1,0,0,0] = 2·(7 + 10 + 6).
        let e0 = try r.targets[0].evaluate(outputs: r.outputs.map { $0.batchItem(0) })
        let e1 = try r.targets[1].evaluate(outputs: r.outputs.map { $0.batchItem(1) })
        #expect(e0.value == 20)
        #expect(e1.value == 46)
        #expect(e0.outputGradients[0]!.toFloats() == [0, 1, 0, 0, 1, 1])
        #expect(e1.outputGradients[0]!.toFloats() == [1, 1, 0, 0, 1, 0])
        #expect(r.layers[0].gradients!.toFloats() == [0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0])
        // The graph form agrees (ShapleyCAM differentiates it twice).
        let shapley = try CAMExplainer(model: model).explain(x, CAMRequest(method: try Self.method("shapleycam"), targetLayers: ["y"],
                                                                             targetFactory: try Self.factory("outputs"), targetOptions: request.targetOptions))
        #expect(shapley.layers[0].gradients!.toFloats() == [0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0])
    }

    @Test func outputEntriesErrorsAndEmptyImages() throws {
        let f = try Self.factory("outputs")
        let y = [Tensor(shape: [1, 2, 3], floats: (0..<6).map(Float.init))]
        for bad in ["y[0,0,2,0]", "z[0,0,0,0]", "y[0,0]", "y[0,0,a,0]", "y(0)"] {
            #expect(throws: CAMError.self, "\(bad)") { try f.makeTarget(Self.input(y, names: ["y"], options: ["entries": bad])) }
        }
        // An entry of image 1 leaves image 0 with nothing: score 0, a zero map with a warning.
        let t = try f.makeTarget(Self.input(y, names: ["y"], options: ["entries": "y[1,0,1,2]"]))
        #expect(t.emptyReason != nil)
        #expect(try t.evaluate(outputs: y).value == 0)
        let model = try Self.doublingModel()
        let r = try CAMExplainer(model: model).explain(Tensor(shape: [1, 1, 2, 3], floats: (1...6).map(Float.init)),
                                                       CAMRequest(method: try Self.method("gradcam"), targetLayers: ["y"], targetFactory: f,
                                                                  targetOptions: ["entries": "y[1,0,1,2]"]))
        #expect(r.maps!.toFloats().allSatisfy { $0 == 0 })
        #expect(r.warnings.first?.contains("selects nothing") == true)
    }

    // MARK: Boxes (YOLO)

    /// Four anchors, two classes, as (cx, cy, w, h, scores…) columns: anchor 1 overlaps anchor 0
    /// (IoU 0.775, same class) and is suppressed; anchor 3 is below the score threshold.
    static let yoloColumns: [[Float]] = [
        [20, 20, 20, 20, 0.1, 0.9],    // (10, 10, 30, 30), class 1, 0.9
        [21.5, 20, 19, 18, 0.2, 0.8],  // (12, 11, 31, 29), class 1, 0.8 → suppressed
        [60, 70, 20, 40, 0.6, 0.3],    // (50, 50, 70, 90), class 0, 0.6
        [5, 5, 4, 4, 0.1, 0.2],        // below 0.25
    ]

    /// The head output as YOLOv8 exports it, (6, A), or transposed (A, 6); YOLOv5 adds objectness.
    static func yoloOutput(transposed: Bool = false, objectness: [Float]? = nil) -> Tensor {
        var columns = yoloColumns
        if let objectness { columns = zip(columns, objectness).map { Array($0.0.prefix(4)) + [$0.1] + Array($0.0.suffix(2)) } }
        let d = columns[0].count, a = columns.count
        if transposed { return Tensor(shape: [a, d], floats: columns.flatMap { $0 }) }
        return Tensor(shape: [d, a], floats: (0..<d).flatMap { j in columns.map { $0[j] } })
    }

    static func writeJSON(_ object: Any, _ dir: URL, _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(arguments: [false, true])
    func yoloV8DecodingAndOwnDetections(_ transposed: Bool) throws {
        let y = Self.yoloOutput(transposed: transposed)
        let t = try Self.factory("boxes").makeTarget(Self.input([y], options: ["decoder": "yolov8:classes=2"]))
        let boxes = try #require(t as? any BoxTarget)
        #expect(boxes.detections.map(\.box) == [[10, 10, 30, 30], [50, 50, 70, 90]])
        #expect(boxes.detections.map(\.classIndex) == [1, 0])
        #expect(boxes.detections.map(\.score) == [0.9, 0.6])
        // Each own detection matches itself: Σ (1 + score).
        let e = try t.evaluate(outputs: [y])
        #expect(abs(e.value - 3.5) <= 1e-6)
        // The best one only, and those of a class.
        let top = try Self.factory("boxes").makeTarget(Self.input([y], options: ["decoder": "yolov8:classes=2", "top": "1"]))
        #expect(abs(try top.evaluate(outputs: [y]).value - 1.9) <= 1e-6)
        let class0 = try Self.factory("boxes").makeTarget(Self.input([y], options: ["decoder": "yolov8:classes=2"], category: 0))
        #expect((class0 as! any BoxTarget).explainedBoxes.map(\.box) == [[50, 50, 70, 90]])
        // Class-agnostic thresholds move the answer as they should.
        let loose = try Self.factory("boxes").makeTarget(Self.input([y], options: ["decoder": "yolov8:classes=2:nms=0.8:score=0.15"]))
        #expect((loose as! any BoxTarget).detections.count == 4)
    }

    @Test func yoloV5ObjectnessMultipliesTheClassScore() throws {
        let y = Self.yoloOutput(transposed: true, objectness: [0.5, 0.9, 1, 0.9])
        let t = try Self.factory("boxes").makeTarget(Self.input([y], options: ["decoder": "yolov5:classes=2"]))
        let d = (t as! any BoxTarget).detections
        // 0.5·0.9 = 0.45 and 0.9·0.8 = 0.72 (now the better of the overlapping pair), 1·0.6.
        #expect(d.map(\.score) == [Float(0.9) * Float(0.8), 0.6])
        #expect(d.map(\.box) == [[12, 11, 31, 29], [50, 50, 70, 90]])
    }

    /// Reference boxes from a file: IoU + score, with the gradient through both; a reference
    /// that overlaps a detection of another class matches nothing.
    @Test func referenceBoxesMatchByIoUAndClass() throws {
        let dir = try CommandRunner.temporaryFolder("boxes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let y = Self.yoloOutput()
        let exact = try Self.writeJSON([["box": [10, 10, 30, 30], "class": 1]], dir, "exact.json")
        let shifted = try Self.writeJSON(["boxes": [["bbox": [11, 12, 31, 29], "label": "b"]]], dir, "shifted.json")
        let labels = dir.appendingPathComponent("labels.txt").path
        try "a\nb\n".write(toFile: labels, atomically: true, encoding: .utf8)
        let wrongClass = try Self.writeJSON([["box": [10, 10, 30, 30], "class": 0]], dir, "wrong.json")
        let f = try Self.factory("boxes")
        #expect(abs(try f.makeTarget(Self.input([y], options: ["decoder": "yolov8:classes=2", "file": exact])).evaluate(outputs: [y]).value - 1.9) <= 1e-6)
        let t = try f.makeTarget(Self.input([y], options: ["decoder": "yolov8:classes=2", "file": shifted, "labels": labels]))
        // IoU of (11, 12, 31, 29) with (10, 10, 30, 30): 19·17 / (400 + 340 − 323).
        let e = try t.evaluate(outputs: [y])
        #expect(abs(e.value - (323.0 / 417 + 0.9)) <= 1e-5)
        #expect((t as! any BoxTarget).explainedBoxes.map(\.label) == ["b"])
        // The gradient against central differences of the same (fixed) match.
        let g = try #require(e.outputGradients[0]).toFloats()
        var worst: Float = 0
        for i in 0..<y.count {
            let plus = y.copy(), minus = y.copy()
            plus.mutableFloats[i] += 1e-2
            minus.mutableFloats[i] -= 1e-2
            let numeric = (try t.evaluate(outputs: [plus]).value - t.evaluate(outputs: [minus]).value) / 2e-2
            worst = Swift.max(worst, abs(numeric - g[i]))
        }
        #expect(worst <= 1e-3, "gradient off by \(worst)")
        #expect(g.contains { $0 != 0 } && g[5 * 4 + 0] == 1 && g[4 * 4 + 0] == 0, "score entry of anchor 0, class 1 has gradient 1")
        // No match: score 0, no gradient, a reason.
        let none = try f.makeTarget(Self.input([y], options: ["decoder": "yolov8:classes=2", "file": wrongClass]))
        #expect(none.emptyReason?.contains("matches a detection") == true)
        let z = try none.evaluate(outputs: [y])
        #expect(z.value == 0 && z.outputGradients.allSatisfy { $0 == nil })
    }

    /// Through a model: the CAM of an unmatched reference is all zeros with a warning; of a
    /// matched one, the layer gradient is the target's output gradient.
    @Test func boxesThroughTheExplainer() throws {
        let dir = try CommandRunner.temporaryFolder("boxes-model")
        defer { try? FileManager.default.removeItem(at: dir) }
        var g = Graph()
        let x = try g.addValue("x")
        g.inputs = [x]
        let a = try g.addValue("A"), out = try g.addValue("output0")
        g.nodes = [
            Node(name: "conv", op: Convolution(), inputs: [x, g.addConstant("one", Tensor(shape: [1, 1, 1, 1], floats: [1]))], outputs: [a]),
            Node(name: "reshape", op: Reshape(), inputs: [a, g.addConstant("shape", Tensor(shape: [3], int64s: [1, 6, 4]))], outputs: [out]),
        ]
        g.outputs = [out]
        let model = try Model(graph: g, source: "yolo-like")
        let input = Self.yoloOutput().reshaped(to: [1, 1, 6, 4])
        let wrongClass = try Self.writeJSON([["box": [10, 10, 30, 30], "class": 0]], dir, "wrong.json")
        for method in ["gradcam", "gradcam++", "layercam", "hirescam"] {
            let r = try CAMExplainer(model: model).explain(input, CAMRequest(method: try Self.method(method), targetLayers: ["A"], targetFactory: try Self.factory("boxes"),
                                                                            targetOptions: ["decoder": "yolov8:classes=2", "file": wrongClass]))
            #expect(r.maps!.toFloats().allSatisfy { $0 == 0 }, "\(method)")
            #expect(r.warnings.first?.contains("selects nothing") == true, "\(method): \(r.warnings)")
        }
        let r = try CAMExplainer(model: model).explain(input, CAMRequest(method: try Self.method("gradcam"), targetLayers: ["A"], targetFactory: try Self.factory("boxes"),
                                                                        targetOptions: ["decoder": "yolov8:classes=2"]))
        let e = try r.targets[0].evaluate(outputs: [r.outputs[0].batchItem(0)])
        #expect(Compare.maxAbs(r.layers[0].gradients!.reshaped(to: [6, 4]), e.outputGradients[0]!) <= 1e-6)
        #expect(r.maps!.toFloats().allSatisfy { $0.isFinite })
    }

    @Test func decoderSpecErrors() throws {
        let y = Self.yoloOutput()
        let f = try Self.factory("boxes")
        for spec in ["yolov9", "yolov8:score", "yolov8:bogus=1", "yolov8:classes=5", "yolov8:layout=sideways", "picodet"] {
            #expect(throws: CAMError.self, "\(spec)") { try f.makeTarget(Self.input([y], options: ["decoder": spec], size: (32, 32))) }
        }
        #expect(throws: CAMError.self) { try f.makeTarget(Self.input([y], options: [:])) }
    }
}
