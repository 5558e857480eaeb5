/// How pictures become a model's input tensor: resize (and crop), then per-channel
/// normalisation in float32, laid out NCHW.
///
/// ```swift
/// // torchvision-style ImageNet model fed with cv2-resized pictures
/// let p = Preprocessing(resize: .plain(height: 224, width: 224),
///                       normalization: .unitScale(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
/// // EfficientNet-Lite: PIL resize of the shorter side to 256, centre crop 224, (x - 127) / 128
/// let q = Preprocessing(resize: .shorterSide(256, cropHeight: 224, cropWidth: 224),
///                       normalization: .rawScale(mean: [127, 127, 127], std: [128, 128, 128]))
/// let (x, shown) = try q.prepare([try RGBImage.load(path: "cat.png")])
/// ```
public struct Preprocessing: Sendable, Equatable {
    /// How the picture is brought to the model's size.
    public enum Resize: Sendable, Equatable {
        /// `cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)`; the aspect
        /// ratio is not kept.
        case plain(height: Int, width: Int)
        /// PIL: scale so the shorter side is `side` — `k = side / min(W, H)`, new size
        /// `(round(W * k), round(H * k))` with Python's round (half to even) — with
        /// `Image.BICUBIC`, then crop the central `cropHeight × cropWidth` region.
        case shorterSide(Int, cropHeight: Int, cropWidth: Int)
        /// Use the picture as it is (all pictures of a batch must then have the same size).
        case none
    }

    /// Per-channel normalisation, computed in float32 exactly as written. `mean` and `std`
    /// hold one value per channel *in the order fed to the model* (B, G, R when `bgr` is set),
    /// or a single value for all three.
    public enum Normalization: Sendable, Equatable {
        /// `x = (Float(pixel) / 255 - mean) / std`: torchvision's `ToTensor()` + `Normalize`,
        /// and pytorch-grad-cam's `preprocess_image(np.float32(img) / 255, mean, std)`.
        case unitScale(mean: [Float], std: [Float])
        /// `x = (Float(pixel) - mean) / std` with mean and std on the 0…255 scale, e.g.
        /// EfficientNet-Lite's `(x - 127) / 128` or Caffe-style mean subtraction (std 1).
        /// Use this form when the reference divided raw pixels: `(x - 127) / 128` cannot be
        /// written exactly on the 0…1 scale (`unitScale` with 127/255 and 128/255 differs in
        /// the last float32 bit for about 90 % of the values).
        case rawScale(mean: [Float], std: [Float])
    }

    /// How pictures are brought to the model's size.
    public var resize: Resize
    /// How pixel values become model inputs.
    public var normalization: Normalization
    /// Feed channels in B, G, R order (models trained on `cv2.imread` pictures).
    public var bgr: Bool

    /// A preprocessing recipe; channels are fed in R, G, B order unless `bgr` is set.
    public init(resize: Resize, normalization: Normalization, bgr: Bool = false) {
        self.resize = resize
        self.normalization = normalization
        self.bgr = bgr
    }

    /// torchvision's ImageNet statistics on `cv2.resize`d 224×224 pictures (pytorch-grad-cam's
    /// examples).
    public static let imagenet = Preprocessing(
        resize: .plain(height: 224, width: 224),
        normalization: .unitScale(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))

    /// Resizes (and crops) one picture; the result is what the model sees, and what a CAM
    /// overlay should be drawn on.
    public func resized(_ image: RGBImage) throws -> RGBImage {
        switch resize {
        case .none:
            return image
        case let .plain(height, width):
            return try image.resizeBilinearOpenCV(width: width, height: height)
        case let .shorterSide(side, cropHeight, cropWidth):
            guard side > 0 else {
                throw CAMError(.usage, "preprocessing: shorter side \(side) must be positive")
            }
            let k = Double(side) / Double(Swift.min(image.width, image.height))
            let w = Int((Double(image.width) * k).rounded(.toNearestOrEven))
            let h = Int((Double(image.height) * k).rounded(.toNearestOrEven))
            return try image.resizeBicubicPIL(width: w, height: h).centerCrop(height: cropHeight, width: cropWidth)
        }
    }

    /// Resizes every picture and normalises the batch into a float32 tensor of shape
    /// `(N, 3, H, W)`. Also returns the resized RGB pictures (for overlays).
    public func prepare(_ images: [RGBImage]) throws -> (tensor: Tensor, images: [RGBImage]) {
        guard !images.isEmpty else {
            throw CAMError(.invalidInput, "preprocessing: no images given")
        }
        let (mean, std, unit) = try channelStatistics()
        let resizedImages = try images.map(resized)
        let h = resizedImages[0].height, w = resizedImages[0].width
        for (i, image) in resizedImages.enumerated() where image.width != w || image.height != h {
            throw CAMError(.invalidInput, "preprocessing: image \(i) is \(image.width)x\(image.height) after resizing, image 0 is \(w)x\(h) (a batch needs one size)")
        }
        let plane = h * w
        let tensor = Tensor(uninitialized: [resizedImages.count, 3, h, w])
        let out = tensor.mutableFloats
        for (n, image) in resizedImages.enumerated() {
            image.pixels.withUnsafeBufferPointer { px in
                for c in 0..<3 {
                    let sourceChannel = bgr ? 2 - c : c
                    let m = mean[c], s = std[c]
                    let base = (n * 3 + c) * plane
                    for i in 0..<plane {
                        let v = Float(px[i * 3 + sourceChannel])
                        out[base + i] = unit ? (v / 255 - m) / s : (v - m) / s
                    }
                }
            }
        }
        return (tensor, resizedImages)
    }

    private func channelStatistics() throws -> (mean: [Float], std: [Float], unit: Bool) {
        let mean: [Float], std: [Float], unit: Bool
        switch normalization {
        case let .unitScale(m, s): (mean, std, unit) = (m, s, true)
        case let .rawScale(m, s): (mean, std, unit) = (m, s, false)
        }
        func three(_ v: [Float], _ name: String) throws -> [Float] {
            if v.count == 1 { return [v[0], v[0], v[0]] }
            guard v.count == 3 else {
                throw CAMError(.usage, "preprocessing: \(name) needs 1 or 3 values, got \(v.count)")
            }
            return v
        }
        let s = try three(std, "std")
        guard s.allSatisfy({ $0 != 0 && $0.isFinite }) else {
            throw CAMError(.usage, "preprocessing: std \(s) must be finite and non-zero")
        }
        return (try three(mean, "mean"), s, unit)
    }
}
