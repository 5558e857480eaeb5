import ArgumentParser
import CAMCore
import Foundation

/// Where the batch comes from: pictures (with preprocessing options) or a ready `.npy`.
struct InputOptions: ParsableArguments {
    @Option(name: .long, help: "An image (PNG or JPEG); repeat for a batch.")
    var image: [String] = []

    @Option(name: .customLong("input-npy"), help: "A preprocessed float32 NCHW .npy batch, used as is.")
    var inputNPY: String?

    @Option(name: .long, help: "Model input size HxW (default: the model's declared size, else 224x224).")
    var size: String?

    @Option(name: .long, help: "plain (OpenCV bilinear to --size) or shorter:N (PIL bicubic of the short side to N, then centre crop --crop); default plain, or the model card's.")
    var resize: String?

    @Option(name: .long, help: "Centre crop HxW after --resize shorter:N (default: --size).")
    var crop: String?

    @Option(name: .long, help: "Per-channel mean r,g,b on the 0–1 scale, subtracted after dividing pixels by 255 (default: ImageNet's).")
    var mean: String?

    @Option(name: .long, help: "Per-channel std r,g,b on the 0–1 scale (default: ImageNet's).")
    var std: String?

    @Flag(name: .customLong("raw-scale"), help: "--mean/--std are on the 0–255 pixel scale: x = (pixel − mean) / std, computed exactly so.")
    var rawScale = false

    @Flag(name: .long, help: "Feed channels in B,G,R order (Caffe / Paddle / cv2-trained models).")
    var bgr = false

    @Option(name: .long, help: "Layout of --input-npy: nchw or nhwc (default: the model's, NHWC for Keras).")
    var layout: String?

    func validate() throws {
        if image.isEmpty == (inputNPY == nil) {
            throw ValidationError("give either --image (one or more) or --input-npy")
        }
        if let size { _ = try Self.parseSize(size, flag: "--size") }
        if let crop { _ = try Self.parseSize(crop, flag: "--crop") }
        if let resize, !(resize == "plain" || resize == "none" || (resize.hasPrefix("shorter:") && Int(resize.dropFirst(8)).map { $0 > 0 } == true)) {
            throw ValidationError("--resize expects plain, none or shorter:N (e.g. shorter:256), got '\(resize)'")
        }
        if let mean { _ = try Self.parseTriple(mean, flag: "--mean") }
        if let layout, Graph.ImageLayout(rawValue: layout) == nil {
            throw ValidationError("--layout must be nchw or nhwc, got '\(layout)'")
        }
        if let std { _ = try Self.parseTriple(std, flag: "--std") }
    }

    /// "HxW" → (height, width).
    static func parseSize(_ text: String, flag: String) throws -> (Int, Int) {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]), h > 0, w > 0, h <= 16384, w <= 16384 else {
            throw ValidationError("\(flag) expects HEIGHTxWIDTH with positive numbers (e.g. 224x224), got '\(text)'")
        }
        return (h, w)
    }

    /// "a,b,c" (or one value for all three channels).
    static func parseTriple(_ text: String, flag: String) throws -> [Float] {
        let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard (values.count == 3 || values.count == 1), values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw ValidationError("\(flag) expects three comma-separated numbers (r,g,b) or one, got '\(text)'")
        }
        let v = values.map { $0! }
        return v.count == 1 ? [v[0], v[0], v[0]] : v
    }

    /// What these flags say about preprocessing (nil where they say nothing).
    func settings() throws -> PreprocessingSettings {
        PreprocessingSettings(size: try size.map { try Self.parseSize($0, flag: "--size") }.map { ($0.0, $0.1) },
                              resize: resize, crop: try crop.map { try Self.parseSize($0, flag: "--crop") }.map { ($0.0, $0.1) },
                              mean: try mean.map { try Self.parseTriple($0, flag: "--mean") },
                              std: try std.map { try Self.parseTriple($0, flag: "--std") },
                              rawScale: rawScale ? true : nil, bgr: bgr ? true : nil)
    }

    /// The preprocessing these options describe, for a model with `declared` input size;
    /// what the flags leave open comes from the model card, then from ImageNet's defaults.
    func preprocessing(declared: (height: Int, width: Int)?, card: ModelCard.Preprocessing? = nil) throws -> Preprocessing {
        try settings().merged(over: PreprocessingSettings(card: card)).resolved(declared: declared)
    }

    /// The batch, the pictures as the model saw them (for overlays), and a name per item.
    /// `imageBatch`: the batch must be (N, C, H, W), as CAMs need.
    func prepare(for model: Model, imageBatch: Bool, card: ModelCard? = nil) throws -> PreparedInput {
        if let inputNPY {
            let t = try NPY.read(inputNPY)
            if imageBatch {
                guard t.dtype == .float32, t.rank == 4 else {
                    throw CAMError(.invalidInput, "\(inputNPY): expected a float32 (N, C, H, W) array, got \(t.dtype) \(t.shape)")
                }
            }
            guard t.rank >= 1 else { throw CAMError(.invalidInput, "\(inputNPY): a batch needs at least one axis, got a scalar") }
            var batch = t
            if let layout, let given = Graph.ImageLayout(rawValue: layout), given != model.inputLayout, t.rank == 4 {
                batch = try Self.relayout(t, to: model.inputLayout)
            }
            try model.validate(input: batch)
            let stem = URL(fileURLWithPath: inputNPY).deletingPathExtension().lastPathComponent
            return PreparedInput(tensor: batch, images: nil, names: (0..<t.shape[0]).map { "\(stem)_\($0)" })
        }
        let pictures = try image.map { try RGBImage.load(path: $0) }
        var (tensor, shown) = try preprocessing(declared: model.declaredInputSize, card: card?.preprocessing).prepare(pictures)
        if model.inputLayout == .nhwc { tensor = try Self.relayout(tensor, to: .nhwc) }
        try model.validate(input: tensor)
        return PreparedInput(tensor: tensor, images: shown, names: image.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent })
    }
}

extension InputOptions {
    /// An image batch transposed from one layout to the other.
    static func relayout(_ t: Tensor, to layout: Graph.ImageLayout) throws -> Tensor {
        try Transpose(perm: layout == .nhwc ? [0, 2, 3, 1] : [0, 3, 1, 2]).forward([t])[0]
    }
}

/// A batch ready for the model.
struct PreparedInput {
    let tensor: Tensor
    /// The pictures after resizing/cropping (what the model saw), when the input was images.
    let images: [RGBImage]?
    /// A short name per batch item, for output files and messages.
    let names: [String]
}
