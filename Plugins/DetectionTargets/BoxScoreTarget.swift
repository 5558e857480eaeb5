import CAMCore
import Foundation

/// upstream's `FasterRCNNBoxScoreTarget` for single-stage detectors: for each reference box,
/// the model's detection with the largest IoU; if that IoU exceeds the threshold and the
/// classes agree, the target adds IoU + the detection's class score. The decoded box and
/// score are rebuilt as graph nodes over the raw head outputs, so the gradient flows through
/// the matched scores and boxes (the box regression) as it does in upstream.
public struct BoxScoreTarget: GraphTarget, BoxTarget {
    struct Term: Sendable {
        var detection: Candidate
        var reference: [Float]
        var iou: Float
    }

    let terms: [Term]
    public let detections: [DetectionBox]
    public let referenceCount: Int
    public let iouThreshold: Float
    let ownDetections: Bool

    public var explainedBoxes: [DetectionBox] {
        terms.map { t in detections.first { $0.box == t.detection.box && $0.classIndex == t.detection.classIndex }
            ?? DetectionBox(box: t.detection.box, classIndex: t.detection.classIndex, score: t.detection.score) }
    }

    public var description: String {
        let boxes = explainedBoxes.map { b in "\(b.label ?? "class \(b.classIndex)") \(String(format: "%.3f", b.score))" }
        return "BoxScoreTarget(\(boxes.isEmpty ? "no match" : boxes.joined(separator: ", ")))"
    }

    public var emptyReason: String? {
        guard terms.isEmpty else { return nil }
        if detections.isEmpty { return "the model detected nothing above the decoder's score threshold" }
        if ownDetections { return "no detection of the requested class" }
        return "none of the \(referenceCount) reference box\(referenceCount == 1 ? "" : "es") matches a detection (IoU > \(iouThreshold), same class)"
    }

    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        guard !terms.isEmpty else { return TargetEvaluation(value: 0, outputGradients: outputs.map { _ in nil }) }
        return try evaluateScoreGraph(outputs: outputs)
    }

    /// Appends the decoded box (x1, y1, x2, y2) of a candidate to `b`'s graph.
    static func boxNode(_ b: inout GradientBuilder, _ geometry: CandidateSource.Geometry, flattened: (inout GradientBuilder, Int) -> ValueID) -> ValueID {
        func pick(_ b: inout GradientBuilder, _ v: ValueID, _ idx: [Int]) -> ValueID {
            b.apply(Gather(axis: 0), v, b.constant(Tensor(shape: [idx.count], int64s: idx.map(Int64.init))))
        }
        func const(_ b: inout GradientBuilder, _ v: [Float]) -> ValueID { b.constant(Tensor(shape: [v.count], floats: v)) }
        switch geometry {
        case .centerSize(let k, let offsets, let scale):
            let v = b.mul(pick(&b, flattened(&b, k), offsets), const(&b, scale))
            let centre = pick(&b, v, [0, 1]), half = b.mul(pick(&b, v, [2, 3]), const(&b, [0.5, 0.5]))
            return b.apply(Concat(axis: 0), b.sub(centre, half), b.apply(Binary(.add), centre, half))
        case .distribution(let k, let offsets, let bins, let center, let stride):
            let idx = offsets.flatMap { s in (0..<bins).map { s + $0 } }
            let dist = b.apply(Reshape(), pick(&b, flattened(&b, k), idx), b.constant(Tensor(shape: [2], int64s: [4, Int64(bins)])))
            let p = b.apply(Softmax(axis: -1), dist)
            let expected = b.apply(Reduce(.sum, keepDims: false), b.mul(p, const(&b, (0..<bins).map(Float.init))),
                                   b.constant(Tensor(shape: [1], int64s: [1])))
            let signed = b.mul(expected, const(&b, [-stride, -stride, stride, stride]))
            return b.apply(Binary(.add), signed, const(&b, [center[0], center[1], center[0], center[1]]))
        }
    }

    /// The candidate's box exactly as `score` computes it (the model's own detections are their
    /// own references: equal to the last bit, the IoU's max / min tie as in upstream).
    static func graphBox(_ c: Candidate, outputs: [Tensor]) throws -> [Float] {
        var graph = Graph()
        let ids = try outputs.indices.map { try graph.addValue("output\($0)") }
        graph.inputs = ids
        var b = GradientBuilder(graph: graph)
        let box = boxNode(&b, c.source.geometry) { b, k in b.apply(Reshape(), ids[k], b.constant(Tensor(shape: [1], int64s: [-1]))) }
        return try Executor(b.graph).evaluate(Dictionary(uniqueKeysWithValues: zip(ids, outputs)), fetch: [box])[0].toFloats()
    }

    public func score(_ b: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID {
        var flat: [Int: ValueID] = [:]
        func flattened(_ b: inout GradientBuilder, _ k: Int) -> ValueID {
            if let f = flat[k] { return f }
            let f = b.apply(Reshape(), outputs[k], b.constant(Tensor(shape: [1], int64s: [-1])))
            flat[k] = f
            return f
        }
        func pick(_ v: ValueID, _ idx: [Int]) -> ValueID {
            b.apply(Gather(axis: 0), v, b.constant(Tensor(shape: [idx.count], int64s: idx.map(Int64.init))))
        }
        func const(_ v: [Float]) -> ValueID { b.constant(Tensor(shape: [v.count], floats: v)) }

        var total: ValueID?
        for t in terms {
            let src = t.detection.source
            let box = Self.boxNode(&b, src.geometry, flattened: flattened)
            // IoU with the reference box, as torchvision's box_iou. Its max / min split the
            // gradient in half on ties, as PyTorch's do: (a + b ± |a − b|) / 2. A box equal to
            // its reference (the model's own detections) is then at the IoU's maximum, with a
            // zero gradient, rather than at a one-sided derivative.
            let r = t.reference
            func extremum(_ a: ValueID, _ c: [Float], max: Bool) -> ValueID {
                let k = const(c)
                let spread = b.apply(Unary(.abs), b.sub(a, k))
                let sum = b.apply(Binary(.add), a, k)
                return b.mul(max ? b.apply(Binary(.add), sum, spread) : b.sub(sum, spread), const([0.5, 0.5]))
            }
            let lo = extremum(pick(box, [0, 1]), [r[0], r[1]], max: true)
            let hi = extremum(pick(box, [2, 3]), [r[2], r[3]], max: false)
            let wh = b.apply(Unary(.relu), b.sub(hi, lo))
            let inter = b.mul(pick(wh, [0]), pick(wh, [1]))
            let size = b.sub(pick(box, [2, 3]), pick(box, [0, 1]))
            let area = b.mul(pick(size, [0]), pick(size, [1]))
            let refArea = const([(r[2] - r[0]) * (r[3] - r[1])])
            let union = b.sub(b.apply(Binary(.add), area, refArea), inter)
            let iou = b.div(inter, union)
            // The class score (a product of entries for objectness heads).
            var score: ValueID?
            for term in src.scoreTerms {
                var v = pick(flattened(&b, term.output), [term.offset])
                if src.sigmoid { v = b.apply(Unary(.sigmoid), v) }
                score = score.map { b.mul($0, v) } ?? v
            }
            total = b.add(total, b.add(iou, score))
        }
        return total ?? const([0])
    }
}

/// `--target boxes[:FILE.json]` with `--decoder yolov8|yolov5|picodet[:spec]`: the reference
/// boxes from FILE.json (input-pixel x1, y1, x2, y2 with a class), or the model's own
/// detections (all, the best `top`, or those of `--category`).
/// Options: `decoder`, `file`, `iou` (match threshold, 0.5), `top`, `labels` (class names file).
final class BoxScoreTargetFactory: TargetFactory {
    let name = "boxes"

    func makeTarget(category: Int?, options: [String: String], outputs: [Tensor]) throws -> any Target {
        throw CAMError(.usage, "the boxes target needs the input size and output names (use CAMExplainer)")
    }

    func makeTarget(_ input: TargetInput) throws -> any Target {
        let o = TargetOptions(name, input.options)
        guard let decoderText = o["decoder"] else {
            throw CAMError(.usage, "the boxes target needs a decoder for the model's head: --decoder yolov8|yolov5|picodet[:options]")
        }
        let spec = try DecoderSpec(decoderText)
        let labels = try o.labels()
        let found = try spec.detections(input)
        let detections = found.map { d in
            DetectionBox(box: d.box, classIndex: d.classIndex, score: d.score,
                         label: labels.flatMap { d.classIndex < $0.count ? $0[d.classIndex] : nil })
        }
        let threshold = try o.float("iou", default: 0.5)
        var references: [(box: [Float], classIndex: Int)]
        let own: Bool
        if let file = o["file"] {
            references = try Self.readReferences(file, image: input.imageIndex, labels: labels)
            own = false
        } else {
            var chosen = found
            if let k = input.category { chosen = chosen.filter { $0.classIndex == k } }
            if let top = try o.int("top") { chosen = Array(chosen.prefix(Swift.max(0, top))) }
            references = try chosen.map { (try BoxScoreTarget.graphBox($0, outputs: input.outputs), $0.classIndex) }
            own = true
        }
        var terms: [BoxScoreTarget.Term] = []
        if !found.isEmpty {
            for ref in references {
                // upstream: the detection with the largest IoU (the first on ties), then the checks.
                var best = 0, bestIoU = -Float.infinity
                for (i, d) in found.enumerated() {
                    let v = BoxMath.iou(ref.box, d.box)
                    if v > bestIoU { best = i; bestIoU = v }
                }
                if bestIoU > threshold && found[best].classIndex == ref.classIndex {
                    terms.append(.init(detection: found[best], reference: ref.box, iou: bestIoU))
                }
            }
        }
        return BoxScoreTarget(terms: terms, detections: detections, referenceCount: references.count, iouThreshold: threshold, ownDetections: own)
    }

    /// Reference boxes from JSON: a list of `{"box": [x1, y1, x2, y2], "class": 3}` (or
    /// `"label": "name"`, or keys `bbox` / `box_xyxy`) for every image, or
    /// `{"images": [[…], […]]}` with one list per image.
    static func readReferences(_ path: String, image: Int, labels: [String]?) throws -> [(box: [Float], classIndex: Int)] {
        guard let data = FileContents.data(atPath: path) else { throw CAMError(.io, "boxes target: cannot read \(path)") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw CAMError(.usage, "boxes target: \(path) is not JSON: \(error.localizedDescription)")
        }
        var list: Any = json
        if let dict = json as? [String: Any] {
            if let images = dict["images"] as? [Any] {
                guard image < images.count else { throw CAMError(.usage, "boxes target: \(path) lists boxes for \(images.count) images; image \(image) has none") }
                list = images[image]
            } else if let boxes = dict["boxes"] {
                list = boxes
            }
        }
        guard let items = list as? [Any] else { throw CAMError(.usage, "boxes target: \(path) must hold a list of boxes (or {\"images\": [[…], …]})") }
        return try items.enumerated().map { i, item in
            guard let d = item as? [String: Any] else { throw CAMError(.usage, "boxes target: \(path): box \(i) is not an object") }
            guard let raw = (d["box"] ?? d["bbox"] ?? d["box_xyxy"] ?? d["xyxy"]) as? [Any], raw.count == 4,
                  let box = Optional(raw.compactMap { ($0 as? NSNumber)?.floatValue }), box.count == 4 else {
                throw CAMError(.usage, "boxes target: \(path): box \(i) needs \"box\": [x1, y1, x2, y2]")
            }
            let cls: Int
            if let n = (d["class"] ?? d["class_index"] ?? d["category"]) as? NSNumber {
                cls = n.intValue
            } else if let s = (d["class"] ?? d["label"]) as? String {
                cls = try classIndex(s, labels: labels, target: "boxes")
            } else {
                throw CAMError(.usage, "boxes target: \(path): box \(i) needs \"class\": index (or \"label\": name with labels)")
            }
            return (box, cls)
        }
    }
}
