import CAMCore
import Foundation

/// Where a decoded box and its score come from in the graph outputs, so that a target can
/// rebuild them as differentiable graph nodes.
struct CandidateSource: Sendable {
    enum Geometry: Sendable {
        /// (cx, cy, w, h) at four flat offsets of an output, scaled by (sx, sy, sx, sy).
        case centerSize(output: Int, offsets: [Int], scale: [Float])
        /// GFL / PP-PicoDet: four distributions (left, top, right, bottom) of `bins` values each,
        /// starting at `offsets`; distance = Σ softmax(bins)·k · stride from the anchor centre.
        case distribution(output: Int, offsets: [Int], bins: Int, center: [Float], stride: Float)
    }
    var geometry: Geometry
    /// The score is the product of these output entries (after `sigmoid` if set).
    var scoreTerms: [(output: Int, offset: Int)]
    var sigmoid: Bool
}

/// One decoded box: input-pixel corners, class, score and where they came from.
struct Candidate: Sendable {
    var box: [Float]
    var classIndex: Int
    var score: Float
    var source: CandidateSource
}

/// A decoder's configuration: `FORMAT[:key=value…]` (`--decoder picodet:strides=8,16,32,64`).
struct DecoderSpec: Sendable {
    enum Format: String, Sendable { case yolov8, yolov5, picodet }
    var format: Format
    var options: TargetOptions

    static let help = "yolov8 | yolov5 | picodet, then :key=value options (score, nms, classes, activation=none|sigmoid, multi-label, max-detections; yolo: layout=auto|channels-first|channels-last, output, normalized; picodet: strides, reg-max, offset)"

    init(_ text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let f = Format(rawValue: parts[0].lowercased()) else {
            throw CAMError(.usage, "decoder '\(parts[0])' is unknown; expected \(Self.help)")
        }
        var values: [String: String] = [:]
        for p in parts.dropFirst() where !p.isEmpty {
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw CAMError(.usage, "decoder option '\(p)' is not key=value") }
            values[kv[0].replacingOccurrences(of: "_", with: "-").lowercased()] = kv[1]
        }
        let known: Set<String> = ["score", "nms", "classes", "activation", "multi-label", "max-detections", "layout", "output", "normalized",
                                  "strides", "reg-max", "offset"]
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw CAMError(.usage, "decoder option '\(unknown)' is unknown; expected \(Self.help)")
        }
        format = f
        options = TargetOptions("decoder \(f.rawValue)", values)
    }

    var scoreThreshold: Float { get throws { try options.float("score", default: format == .picodet ? 0.5 : 0.25) } }
    var nmsThreshold: Float { get throws { try options.float("nms", default: format == .picodet ? 0.5 : 0.45) } }
    var maxDetections: Int { get throws { try options.int("max-detections") ?? 300 } }
    var multiLabel: Bool { get throws { try (options.int("multi-label") ?? (format == .picodet ? 1 : 0)) != 0 } }
    var sigmoid: Bool {
        get throws {
            switch options["activation"] ?? "none" {
            case "none": return false
            case "sigmoid": return true
            case let a: throw CAMError(.usage, "decoder option activation: expected none or sigmoid, got '\(a)'")
            }
        }
    }

    /// Every box the head proposes above the score threshold, before NMS.
    func candidates(_ input: TargetInput) throws -> [Candidate] {
        switch format {
        case .yolov8, .yolov5: return try yoloCandidates(input)
        case .picodet: return try picodetCandidates(input)
        }
    }

    /// Candidates after per-class greedy NMS, best first, at most `max-detections`.
    func detections(_ input: TargetInput) throws -> [Candidate] {
        let all = try candidates(input).sorted { $0.score > $1.score }
        let limit = try maxDetections, iou = try nmsThreshold
        var kept: [Candidate] = []
        for c in all where kept.count < limit {
            if !kept.contains(where: { $0.classIndex == c.classIndex && BoxMath.iou($0.box, c.box) > iou }) { kept.append(c) }
        }
        return kept
    }

    static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

    // MARK: YOLO

    /// YOLOv8-style `(4 + C, A)` (or transposed) heads: (cx, cy, w, h) then class scores;
    /// YOLOv5-style `(A, 5 + C)`: an objectness score after the box, score = objectness · class.
    func yoloCandidates(_ input: TargetInput) throws -> [Candidate] {
        let k = try options.outputIndex(input)
        let y = input.outputs[k]
        guard y.dtype == .float32, y.rank == 2 || (y.rank == 3 && y.shape[0] == 1) else {
            throw CAMError(.usage, "decoder \(format.rawValue): output '\(input.outputNames[k])' is \(y.shape) per image; expected (4 + classes\(format == .yolov5 ? " + 1" : ""), anchors) or its transpose")
        }
        let (r, c) = (y.shape[y.rank - 2], y.shape[y.rank - 1])
        let extra = format == .yolov5 ? 5 : 4
        var channelsFirst: Bool
        switch options["layout"] ?? "auto" {
        case "channels-first": channelsFirst = true
        case "channels-last": channelsFirst = false
        case "auto":
            if let classes = try options.int("classes") {
                guard r == classes + extra || c == classes + extra else {
                    throw CAMError(.usage, "decoder \(format.rawValue): output \(y.shape) has no axis of \(classes) + \(extra) attributes")
                }
                channelsFirst = r == classes + extra && !(c == classes + extra && r > c)
            } else {
                channelsFirst = r < c
            }
        case let l: throw CAMError(.usage, "decoder option layout: expected auto, channels-first or channels-last, got '\(l)'")
        }
        let (d, anchors) = channelsFirst ? (r, c) : (c, r)
        guard d > extra else { throw CAMError(.usage, "decoder \(format.rawValue): \(d) attributes per box leave no class scores (output \(y.shape))") }
        let classes = d - extra
        let v = y.floats
        func at(_ a: Int, _ j: Int) -> Int { channelsFirst ? j * anchors + a : a * d + j }
        let useSigmoid = try sigmoid, threshold = try scoreThreshold, multi = try multiLabel
        let normalized = try (options.int("normalized") ?? 0) != 0
        let scale: [Float] = normalized ? [Float(input.inputWidth), Float(input.inputHeight), Float(input.inputWidth), Float(input.inputHeight)] : [1, 1, 1, 1]
        func act(_ x: Float) -> Float { useSigmoid ? Self.sigmoid(x) : x }
        var out: [Candidate] = []
        for a in 0..<anchors {
            var objectness: Float = 1
            if format == .yolov5 {
                objectness = act(v[at(a, 4)])
                if objectness <= threshold { continue }
            }
            var picks: [(Int, Float)] = []
            if multi {
                for j in 0..<classes {
                    let s = objectness * act(v[at(a, extra + j)])
                    if s > threshold { picks.append((j, s)) }
                }
            } else {
                var best = 0
                for j in 1..<classes where v[at(a, extra + j)] > v[at(a, extra + best)] { best = j }
                let s = objectness * act(v[at(a, extra + best)])
                if s > threshold { picks.append((best, s)) }
            }
            guard !picks.isEmpty else { continue }
            let offsets = (0..<4).map { at(a, $0) }
            let (cx, cy, w, h) = (v[offsets[0]] * scale[0], v[offsets[1]] * scale[1], v[offsets[2]] * scale[2], v[offsets[3]] * scale[3])
            let box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
            for (j, s) in picks {
                let terms = (format == .yolov5 ? [(k, at(a, 4))] : []) + [(k, at(a, extra + j))]
                out.append(Candidate(box: box, classIndex: j, score: s,
                                     source: CandidateSource(geometry: .centerSize(output: k, offsets: offsets, scale: scale),
                                                             scoreTerms: terms.map { (output: $0.0, offset: $0.1) }, sigmoid: useSigmoid)))
            }
        }
        return out
    }

    // MARK: PP-PicoDet / GFL

    /// One level of a PicoDet head: its class-score and box-distribution outputs and grid.
    struct Level {
        var scores: Int
        var boxes: Int
        var stride: Int
        var rows: Int
        var columns: Int
    }

    /// Pairs the per-level score outputs `(A, C)` with the box-distribution outputs
    /// `(A, 4·(reg_max + 1))` and finds each level's stride from its anchor count.
    func picodetLevels(_ input: TargetInput) throws -> (levels: [Level], bins: Int, classes: Int) {
        let two = input.outputs.indices.filter { input.outputs[$0].rank == 2 || (input.outputs[$0].rank == 3 && input.outputs[$0].shape[0] == 1) }
        func dims(_ k: Int) -> (Int, Int) { let s = input.outputs[k].shape; return (s[s.count - 2], s[s.count - 1]) }
        var boxOutputs: [Int], scoreOutputs: [Int]
        if let regMax = try options.int("reg-max") {
            boxOutputs = two.filter { dims($0).1 == 4 * (regMax + 1) }
            scoreOutputs = two.filter { dims($0).1 != 4 * (regMax + 1) }
            if scoreOutputs.isEmpty && boxOutputs.count % 2 == 0 {  // as many classes as box channels: by order
                scoreOutputs = Array(boxOutputs.prefix(boxOutputs.count / 2))
                boxOutputs = Array(boxOutputs.suffix(boxOutputs.count / 2))
            }
        } else {
            // Box outputs have a last axis divisible by 4 and shared by half of the outputs.
            let half = two.count / 2
            guard two.count >= 2, two.count % 2 == 0 else {
                throw CAMError(.usage, "decoder picodet: expected per-level score and box outputs, (A, C) and (A, 4·(reg_max+1)); the model's outputs are \(input.outputs.map(\.shape))")
            }
            let lastBox = Set(two.suffix(half).map { dims($0).1 }), lastScore = Set(two.prefix(half).map { dims($0).1 })
            if lastBox.count == 1, lastScore.count == 1, lastBox.first! % 4 == 0 {
                scoreOutputs = Array(two.prefix(half))
                boxOutputs = Array(two.suffix(half))
            } else {
                // Interleaved (scores, boxes, scores, boxes…).
                scoreOutputs = stride(from: 0, to: two.count, by: 2).map { two[$0] }
                boxOutputs = stride(from: 1, to: two.count, by: 2).map { two[$0] }
            }
        }
        guard !scoreOutputs.isEmpty, scoreOutputs.count == boxOutputs.count else {
            throw CAMError(.usage, "decoder picodet: could not pair score and box outputs among \(input.outputs.map(\.shape)); give reg-max")
        }
        let bins4 = Set(boxOutputs.map { dims($0).1 }), classSet = Set(scoreOutputs.map { dims($0).1 })
        guard bins4.count == 1, bins4.first! % 4 == 0, classSet.count == 1 else {
            throw CAMError(.usage, "decoder picodet: box outputs must share one 4·(reg_max+1) width and score outputs one class count (got \(bins4.sorted()), \(classSet.sorted()))")
        }
        scoreOutputs.sort { dims($0).0 > dims($1).0 }
        boxOutputs.sort { dims($0).0 > dims($1).0 }
        let (H, W) = (input.inputHeight, input.inputWidth)
        guard H > 0, W > 0 else { throw CAMError(.usage, "decoder picodet needs the input size") }
        let given = try options.ints("strides")
        if let given, given.count != scoreOutputs.count {
            throw CAMError(.usage, "decoder picodet: \(given.count) strides for \(scoreOutputs.count) levels")
        }
        var levels: [Level] = []
        var candidatesStrides = [8, 16, 32, 64, 128, 256]
        for (i, (s, b)) in zip(scoreOutputs, boxOutputs).enumerated() {
            let a = dims(s).0
            guard dims(b).0 == a else { throw CAMError(.usage, "decoder picodet: level \(i) has \(a) score rows but \(dims(b).0) box rows") }
            let grid = { (st: Int) in ((H + st - 1) / st, (W + st - 1) / st) }
            let stride: Int
            if let given {
                stride = given[i]
                let (r, c) = grid(stride)
                guard r * c == a else {
                    throw CAMError(.usage, "decoder picodet: level \(i) has \(a) anchors, but stride \(stride) on \(H)×\(W) gives \(r)×\(c)")
                }
            } else {
                guard let st = candidatesStrides.first(where: { grid($0).0 * grid($0).1 == a }) else {
                    throw CAMError(.usage, "decoder picodet: no stride gives \(a) anchors on a \(H)×\(W) input; give strides=…")
                }
                stride = st
                candidatesStrides.removeAll { $0 <= st }
            }
            let (r, c) = grid(stride)
            levels.append(Level(scores: s, boxes: b, stride: stride, rows: r, columns: c))
        }
        return (levels, bins4.first! / 4, classSet.first!)
    }

    func picodetCandidates(_ input: TargetInput) throws -> [Candidate] {
        let (levels, bins, classes) = try picodetLevels(input)
        let useSigmoid = try sigmoid, threshold = try scoreThreshold, multi = try multiLabel
        let offset = try options.float("offset", default: 0.5)
        var out: [Candidate] = []
        for level in levels {
            let s = input.outputs[level.scores].floats, b = input.outputs[level.boxes].floats
            let st = Float(level.stride)
            for a in 0..<(level.rows * level.columns) {
                var picks: [(Int, Float)] = []
                if multi {
                    for j in 0..<classes {
                        let v = useSigmoid ? Self.sigmoid(s[a * classes + j]) : s[a * classes + j]
                        if v > threshold { picks.append((j, v)) }
                    }
                } else {
                    var best = 0
                    for j in 1..<classes where s[a * classes + j] > s[a * classes + best] { best = j }
                    let v = useSigmoid ? Self.sigmoid(s[a * classes + best]) : s[a * classes + best]
                    if v > threshold { picks.append((best, v)) }
                }
                guard !picks.isEmpty else { continue }
                let center = [(Float(a % level.columns) + offset) * st, (Float(a / level.columns) + offset) * st]
                let starts = (0..<4).map { a * 4 * bins + $0 * bins }
                let d = starts.map { BoxMath.expectedBin(b, start: $0, count: bins) * st }
                let box = [center[0] - d[0], center[1] - d[1], center[0] + d[2], center[1] + d[3]]
                for (j, v) in picks {
                    out.append(Candidate(box: box, classIndex: j, score: v,
                                         source: CandidateSource(geometry: .distribution(output: level.boxes, offsets: starts, bins: bins,
                                                                                         center: center, stride: st),
                                                                 scoreTerms: [(output: level.scores, offset: a * classes + j)], sigmoid: useSigmoid)))
                }
            }
        }
        return out
    }
}

enum BoxMath {
    /// Intersection over union of two (x1, y1, x2, y2) boxes (0 when either is empty).
    static func iou(_ a: [Float], _ b: [Float]) -> Float {
        let iw = Swift.max(0, Swift.min(a[2], b[2]) - Swift.max(a[0], b[0]))
        let ih = Swift.max(0, Swift.min(a[3], b[3]) - Swift.max(a[1], b[1]))
        let inter = iw * ih
        let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return union > 0 ? inter / union : 0
    }

    /// Σ softmax(v[start..<start+count])_k · k.
    static func expectedBin(_ v: UnsafeBufferPointer<Float>, start: Int, count: Int) -> Float {
        var m = -Float.infinity
        for k in 0..<count { m = Swift.max(m, v[start + k]) }
        var sum: Float = 0, weighted: Float = 0
        for k in 0..<count {
            let e = Foundation.exp(v[start + k] - m)
            sum += e
            weighted += e * Float(k)
        }
        return weighted / sum
    }
}
