/// Cropping, with PIL's conventions.
extension RGBImage {
    /// `img.crop((left, top, left + width, top + height))`: pixels outside the image are black,
    /// as PIL fills them.
    public func crop(left: Int, top: Int, width newWidth: Int, height newHeight: Int) throws -> RGBImage {
        try RGBImage.validateSize(width: newWidth, height: newHeight, source: "crop")
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        for y in 0..<newHeight {
            let sy = top + y
            guard sy >= 0, sy < height else { continue }
            for x in 0..<newWidth {
                let sx = left + x
                guard sx >= 0, sx < width else { continue }
                let s = (sy * width + sx) * 3, d = (y * newWidth + x) * 3
                out[d] = pixels[s]
                out[d + 1] = pixels[s + 1]
                out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(unchecked: newWidth, newHeight, out)
    }

    /// The central `height × width` region, at PIL-style offsets `left = (W - width) // 2`,
    /// `top = (H - height) // 2` (floor division; a crop larger than the image is padded black).
    public func centerCrop(height newHeight: Int, width newWidth: Int) throws -> RGBImage {
        func floorHalf(_ v: Int) -> Int { v >= 0 ? v / 2 : -((-v + 1) / 2) }
        return try crop(left: floorHalf(width - newWidth), top: floorHalf(height - newHeight),
                        width: newWidth, height: newHeight)
    }
}
