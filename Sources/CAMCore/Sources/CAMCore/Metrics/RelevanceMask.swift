/// Which pixels a perturbation metric removes first (upstream's `RemoveMostRelevantFirst` /
/// `RemoveLeastRelevantFirst`).
public enum RemovalOrder: String, Sendable, Hashable {
    case mostRelevantFirst
    case leastRelevantFirst
}

/// Where the removal threshold lies: a percentile of the map, or Otsu's threshold ('auto').
public enum RemovalThreshold: Sendable, Hashable, CustomStringConvertible {
    case percentile(Double)
    case auto

    /// As upstream's argument is written: `80`, `12.5`, `'auto'`.
    public var description: String {
        switch self {
        case .percentile(let p): return MetricValue.number(p).description
        case .auto: return "'auto'"
        }
    }
}

/// upstream's keep masks for the perturbation metrics, bit for bit:
///
/// - a percentile `p`: `keep = float32(cam < np.percentile(cam, p))` — pixels with `keep == 0`
///   are imputed, so `RemoveMostRelevantFirst(80)` imputes the top ~20 %;
/// - `'auto'`: `cv2.threshold(uint8(cam · 255), 0, 255, THRESH_BINARY + THRESH_OTSU)`, a
///   0/255 mask with 255 where the map is above Otsu's threshold. 255 counts as kept, so
///   `RemoveMostRelevantFirst('auto')` *keeps* the most relevant pixels — the opposite of the
///   percentiles. A quirk of upstream, reproduced as is.
///
/// `RemoveLeastRelevantFirst` does the same on `1 − cam`.
public enum RelevanceMask {
    /// `numpy.percentile(values, q)` with the default 'linear' method, for float32 values:
    /// numpy interpolates between the two neighbouring order statistics in float32.
    public static func percentile(_ values: [Float], _ q: Double) -> Float {
        precondition(!values.isEmpty, "percentile of an empty array")
        let sorted = values.sorted()
        let n = sorted.count
        let virtual = Double(n - 1) * (q / 100)
        let lo = Swift.max(0, Swift.min(n - 1, Int(virtual.rounded(.down))))
        let hi = Swift.min(lo + 1, n - 1)
        let t = virtual - Double(lo)
        let a = sorted[lo], b = sorted[hi]
        let d = b - a
        return t < 0.5 ? a + d * Float(t) : b - d * Float(1 - t)
    }

    /// OpenCV's Otsu threshold of an 8-bit image (`getThreshVal_Otsu_8u`): the histogram level
    /// maximising the between-class variance (the first such level on ties).
    public static func otsuThreshold(_ pixels: [UInt8]) -> Int {
        var histogram = [Int](repeating: 0, count: 256)
        for p in pixels { histogram[Int(p)] += 1 }
        let scale = 1.0 / Double(pixels.count)
        var mu = 0.0
        for i in 0..<256 { mu += Double(i) * Double(histogram[i]) }
        mu *= scale
        var mu1 = 0.0, q1 = 0.0, maxSigma = 0.0, maxValue = 0
        let eps = Double(Float.ulpOfOne)
        for i in 0..<256 {
            let p = Double(histogram[i]) * scale
            mu1 *= q1
            q1 += p
            let q2 = 1 - q1
            if Swift.min(q1, q2) < eps || Swift.max(q1, q2) > 1 - eps { continue }
            mu1 = (mu1 + Double(i) * p) / q1
            let mu2 = (mu - q1 * mu1) / q2
            let sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2)
            if sigma > maxSigma {
                maxSigma = sigma
                maxValue = i
            }
        }
        return maxValue
    }

    /// The mask upstream hands to the imputer for one (H·W) map: float 0/1 for a percentile,
    /// 0/255 for 'auto'. Pixels where it is 0 are imputed; pixels where it is > 0.5 are kept.
    public static func keepMask(cam: [Float], order: RemovalOrder, threshold: RemovalThreshold) -> [Float] {
        let m = order == .mostRelevantFirst ? cam : cam.map { 1 - $0 }
        switch threshold {
        case .percentile(let p):
            let t = percentile(m, p)
            return m.map { $0 < t ? 1 : 0 }
        case .auto:
            // np.uint8(mask * 255): float32 product, truncated (values are in [0, 1]).
            let bytes = m.map { v -> UInt8 in
                let s = v * 255
                return s.isNaN || s <= 0 ? 0 : (s >= 255 ? 255 : UInt8(s))
            }
            let t = otsuThreshold(bytes)
            return bytes.map { Int($0) > t ? 255 : 0 }
        }
    }
}
