import CAMCore
import Foundation

/// upstream's `SemanticSegmentationTarget`: the sum of one category's output over a mask,
/// `Σ_{y,x} output[category, y, x] · mask[y, x]`.
///
/// The image's output is (C, H, W) — per-class logits or probabilities — or (1, H, W) / (H, W),
/// a single-channel map such as a text detector's probability map.
public struct SegmentationTarget: GraphTarget {
    public let category: Int
    /// (H, W), float32.
    public let mask: Tensor
    /// Which graph output the target reads.
    public let output: Int
    /// Where the mask came from, for messages.
    public let maskSource: String

    public init(category: Int, mask: Tensor, output: Int = 0, maskSource: String = "a given mask") {
        self.category = category
        self.mask = mask
        self.output = output
        self.maskSource = maskSource
    }

    public var description: String { "SemanticSegmentationTarget(\(category), \(maskSource))" }

    public var emptyReason: String? {
        mask.floats.contains(where: { $0 != 0 }) ? nil : "the mask (\(maskSource)) has no pixel"
    }

    /// The output's (channels, plane) layout for one image, checked against the mask.
    func layout(_ shape: [Int]) throws -> (channels: Int, plane: Int) {
        let (h, w) = (mask.shape[0], mask.shape[1])
        guard shape.count >= 2, Array(shape.suffix(2)) == [h, w] else {
            throw CAMError(.usage, "segmentation target: the output's shape \(shape) does not end in the mask's \(h)×\(w)")
        }
        let channels = shape.dropLast(2).reduce(1, *)
        guard shape.count <= 3 else { throw CAMError(.usage, "segmentation target: the output for one image is \(shape); expected (C, H, W) or (H, W)") }
        guard category >= 0, category < channels else {
            throw CAMError(.usage, "segmentation target: category \(category) is out of range for an output with \(channels) channel\(channels == 1 ? "" : "s")")
        }
        return (channels, h * w)
    }

    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        guard output < outputs.count else { throw CAMError(.usage, "segmentation target: the model has no output \(output)") }
        let y = outputs[output]
        let (_, plane) = try layout(y.shape)
        let values = y.floats, m = mask.floats
        var sum: Float = 0
        let seed = Tensor(zeros: y.shape)
        let g = seed.mutableFloats
        let base = category * plane
        for i in 0..<plane where m[i] != 0 {
            sum += values[base + i] * m[i]
            g[base + i] = m[i]
        }
        var grads = [Tensor?](repeating: nil, count: outputs.count)
        grads[output] = seed
        return TargetEvaluation(value: sum, outputGradients: grads)
    }

    public func score(_ b: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID {
        // The category's plane: (H, W) outputs are the plane; (C, H, W) ones are indexed.
        let flat = b.apply(Reshape(), outputs[output], b.constant(Tensor(shape: [3], int64s: [-1, Int64(mask.shape[0]), Int64(mask.shape[1])])))
        let picked = b.apply(Gather(axis: 0), flat, b.constant(Tensor(shape: [], int64s: [Int64(category)])))
        let masked = b.apply(Binary(.mul), picked, b.constant(mask))
        return b.apply(Reduce(.sum, keepDims: false), masked)
    }
}

/// `--target segmentation:CATEGORY[:MASK]`: the mask from a file (`.npy` (H, W) — nonzero is in
/// the mask, values are weights — or a PNG, where any nonzero pixel is in), else derived from
/// the image's own output: argmax over the channels == CATEGORY for multi-class logits, and
/// output > `threshold` (default 0.5) for a single-channel probability map.
/// Options: `category`, `mask`, `threshold`, `output` (name or index; default the first).
final class SegmentationTargetFactory: TargetFactory {
    let name = "segmentation"

    func makeTarget(category: Int?, options: [String: String], outputs: [Tensor]) throws -> any Target {
        try makeTarget(TargetInput(category: category, options: options, outputs: outputs, outputNames: outputs.indices.map { "output\($0)" },
                                   imageIndex: 0, inputHeight: 0, inputWidth: 0))
    }

    func makeTarget(_ input: TargetInput) throws -> any Target {
        let o = TargetOptions(name, input.options)
        let output = try o.outputIndex(input)
        let y = input.outputs[output]
        guard y.dtype == .float32, y.rank >= 2, y.rank <= 3 else {
            throw CAMError(.usage, "segmentation target: output '\(input.outputNames[output])' is \(y.shape) (\(y.dtype)) per image; expected a float (C, H, W) or (H, W) map")
        }
        let category = try o.values["category"].map { try classIndex($0, labels: try o.labels(), target: name) } ?? input.category ?? 0
        let (h, w) = (y.shape[y.rank - 2], y.shape[y.rank - 1])
        let channels = y.rank == 3 ? y.shape[0] : 1
        guard category < channels else {
            throw CAMError(.usage, "segmentation target: category \(category) is out of range: output '\(input.outputNames[output])' has \(channels) channel\(channels == 1 ? "" : "s")")
        }
        if let path = o["mask"] {
            return SegmentationTarget(category: category, mask: try Self.readMask(path, height: h, width: w), output: output,
                                      maskSource: URL(fileURLWithPath: path).lastPathComponent)
        }
        let v = y.floats
        let plane = h * w
        var mask = [Float](repeating: 0, count: plane)
        let source: String
        if channels == 1 {
            let threshold = try o.float("threshold", default: 0.5)
            for i in 0..<plane where v[i] > threshold { mask[i] = 1 }
            source = "output > \(threshold)"
        } else {
            for i in 0..<plane {
                var best = 0
                for c in 1..<channels where v[c * plane + i] > v[best * plane + i] { best = c }
                if best == category { mask[i] = 1 }
            }
            source = "argmax = \(category)"
        }
        return SegmentationTarget(category: category, mask: Tensor(shape: [h, w], floats: mask), output: output, maskSource: source)
    }

    /// A mask file as (H, W) float32: `.npy` values as they are (squeezed to 2-D), or a picture
    /// whose nonzero pixels are 1.
    static func readMask(_ path: String, height h: Int, width w: Int) throws -> Tensor {
        let mask: Tensor
        if path.lowercased().hasSuffix(".npy") {
            let t = try NPY.read(path)
            let dims = t.shape.filter { $0 != 1 }
            guard t.count == h * w, dims.count <= 2, t.shape.suffix(2) == [h, w] || (h == 1 || w == 1) else {
                throw CAMError(.usage, "segmentation mask \(path) is \(t.shape); the output's map is \(h)×\(w)")
            }
            mask = Tensor(shape: [h, w], floats: t.toFloats())
        } else {
            let image = try RGBImage.load(path: path)
            guard image.width == w, image.height == h else {
                throw CAMError(.usage, "segmentation mask \(path) is \(image.width)×\(image.height); the output's map is \(w)×\(h)")
            }
            var m = [Float](repeating: 0, count: h * w)
            for y in 0..<h {
                for x in 0..<w {
                    let p = image[x, y]
                    if p.r != 0 || p.g != 0 || p.b != 0 { m[y * w + x] = 1 }
                }
            }
            mask = Tensor(shape: [h, w], floats: m)
        }
        guard mask.floats.allSatisfy({ $0.isFinite }) else { throw CAMError(.usage, "segmentation mask \(path) holds non-finite values") }
        return mask
    }
}
