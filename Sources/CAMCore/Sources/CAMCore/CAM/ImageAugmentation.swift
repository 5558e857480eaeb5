/// The test-time augmentations of upstream's `aug_smooth` (ttach's HorizontalFlip and Multiply).
public enum ImageAugmentation {
    /// The batch mirrored left–right (the width axis: last for NCHW and (N, H, W), third for NHWC).
    public static func flipHorizontally(_ t: Tensor, layout: Graph.ImageLayout) throws -> Tensor {
        guard t.rank >= 2 else { throw CAMError(.runtime, "cannot flip a tensor of shape \(t.shape)") }
        let axis = layout == .nhwc && t.rank == 4 ? 2 : t.rank - 1
        var maps = t.shape.map { Array(0..<$0) }
        maps[axis] = Array((0..<t.shape[axis]).reversed())
        return gatherByDimensionMaps(t, maps: maps, fill: nil)
    }
}
