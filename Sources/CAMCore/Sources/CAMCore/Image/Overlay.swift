/// pytorch-grad-cam's `show_cam_on_image(img, mask, use_rgb=True, colormap, image_weight)`,
/// reproduced exactly for `img = rgb / 255` (float64) and a float32 `mask`:
///
/// ```python
/// heatmap = cv2.applyColorMap(np.uint8(255 * mask), colormap)   # float32 product, truncated
/// heatmap = cv2.cvtColor(heatmap, cv2.COLOR_BGR2RGB)
/// heatmap = np.float32(heatmap) / 255                            # float32
/// cam = (1 - image_weight) * heatmap + image_weight * img        # float32 term + float64 term
/// cam = cam / np.max(cam)
/// return np.uint8(255 * cam)                                     # truncated
/// ```
///
/// `cam` holds `image.height × image.width` values in [0, 1], row-major. Values outside [0, 1]
/// are clamped before the 8-bit conversion (upstream's `np.uint8` would wrap them around).
/// `imageWeight` must lie in [0, 1], as upstream requires. An all-black result (the maximum
/// is 0) is returned as black instead of dividing by zero.
public func overlay(image: RGBImage, cam: [Float], imageWeight: Double = 0.5,
                    colormap: Colormap = .jet) throws -> RGBImage {
    guard imageWeight >= 0, imageWeight <= 1 else {
        throw CAMError(.usage, "overlay: image weight \(imageWeight) is outside [0, 1]")
    }
    guard cam.count == image.width * image.height else {
        throw CAMError(.invalidInput, "overlay: the CAM has \(cam.count) values, the \(image.width)x\(image.height) image needs \(image.width * image.height)")
    }
    let table = colormap.table
    let heatWeight = Float(1 - imageWeight)  // numpy: Python float times float32 array → float32
    let count = cam.count
    var blended = [Double](repeating: 0, count: count * 3)
    var maximum = -Double.infinity
    image.pixels.withUnsafeBufferPointer { px in
        for i in 0..<count {
            let scaled = 255 * cam[i]  // float32
            let level = scaled.isNaN ? 0 : Int(Swift.min(Swift.max(scaled, 0), 255))  // np.uint8 truncation
            for c in 0..<3 {
                let heat = Float(table[level * 3 + c]) / 255
                let value = Double(heatWeight * heat) + imageWeight * (Double(px[i * 3 + c]) / 255)
                blended[i * 3 + c] = value
                if value > maximum { maximum = value }
            }
        }
    }
    var out = [UInt8](repeating: 0, count: count * 3)
    if maximum > 0 {
        for i in 0..<(count * 3) {
            let v = 255 * (blended[i] / maximum)
            out[i] = UInt8(Swift.min(Swift.max(v, 0), 255))  // truncation toward zero
        }
    }
    return RGBImage(unchecked: image.width, image.height, out)
}
