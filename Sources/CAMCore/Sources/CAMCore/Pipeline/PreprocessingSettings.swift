/// What a user said about preprocessing, from flags, a manifest or a model card — every field
/// optional; `merged(over:)` layers the sources (flags over manifest over card), and
/// `resolved(declared:)` fills what is still open with the defaults (ImageNet's statistics,
/// OpenCV bilinear resize to the model's input size).
public struct PreprocessingSettings: Sendable {
    public var size: (height: Int, width: Int)?
    /// "plain", "none" or "shorter:N".
    public var resize: String?
    public var crop: (height: Int, width: Int)?
    /// One or three values, in r,g,b order.
    public var mean: [Float]?
    public var std: [Float]?
    /// mean/std on the 0–255 scale (`x = (pixel − mean) / std`).
    public var rawScale: Bool?
    public var bgr: Bool?

    public init(size: (height: Int, width: Int)? = nil, resize: String? = nil, crop: (height: Int, width: Int)? = nil,
                mean: [Float]? = nil, std: [Float]? = nil, rawScale: Bool? = nil, bgr: Bool? = nil) {
        self.size = size
        self.resize = resize
        self.crop = crop
        self.mean = mean
        self.std = std
        self.rawScale = rawScale
        self.bgr = bgr
    }

    /// A model card's preprocessing.
    public init(card: ModelCard.Preprocessing?) {
        guard let c = card else { self.init(); return }
        self.init(size: c.size.map { ($0[0], $0[1]) }, resize: c.resize, crop: c.crop.map { ($0[0], $0[1]) },
                  mean: c.mean, std: c.std, rawScale: c.scale.map { $0 == "raw" }, bgr: c.channels.map { $0 == "bgr" })
    }

    /// These settings, with `other`'s where these say nothing.
    public func merged(over other: PreprocessingSettings) -> PreprocessingSettings {
        PreprocessingSettings(size: size ?? other.size, resize: resize ?? other.resize, crop: crop ?? other.crop,
                              mean: mean ?? other.mean, std: std ?? other.std, rawScale: rawScale ?? other.rawScale, bgr: bgr ?? other.bgr)
    }

    /// The preprocessing for a model whose input is `declared` (height, width) when fixed.
    public func resolved(declared: (height: Int, width: Int)?) throws -> Preprocessing {
        let size = self.size ?? declared ?? (224, 224)
        func triple(_ v: [Float], _ what: String) throws -> [Float] {
            guard v.count == 1 || v.count == 3 else { throw CAMError(.usage, "\(what) needs one or three values, got \(v.count)") }
            return v.count == 1 ? [v[0], v[0], v[0]] : v
        }
        let m = try triple(mean ?? [0.485, 0.456, 0.406], "mean")
        let s = try triple(std ?? [0.229, 0.224, 0.225], "std")
        guard s.allSatisfy({ $0 != 0 && $0.isFinite }) && m.allSatisfy(\.isFinite) else { throw CAMError(.usage, "std must be non-zero and mean and std finite") }
        let swap = bgr ?? false
        // Mean and std are given in r,g,b order; with bgr they apply to the swapped channels.
        let (mm, ss) = swap ? (Array(m.reversed()), Array(s.reversed())) : (m, s)
        let mode = resize ?? "plain"
        let r: Preprocessing.Resize
        if mode == "plain" { r = .plain(height: size.height, width: size.width) }
        else if mode == "none" { r = .none }
        else if mode.hasPrefix("shorter:"), let n = Int(mode.dropFirst(8)), n > 0 {
            let c = crop ?? size
            r = .shorterSide(n, cropHeight: c.height, cropWidth: c.width)
        } else {
            throw CAMError(.usage, "resize must be plain, none or shorter:N (e.g. shorter:256), got '\(mode)'")
        }
        return Preprocessing(resize: r, normalization: rawScale == true ? .rawScale(mean: mm, std: ss) : .unitScale(mean: mm, std: ss), bgr: swap)
    }
}
