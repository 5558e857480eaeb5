import CAMCore

/// `--reshape swin`: a Swin Transformer stage's tokens → (N, C, h, w). Accepts timm's
/// channels-last (N, h, w, C) maps and the older (N, h·w, C) token sequences (upstream's
/// `swinT_reshape_transform`). No tokens are dropped (Swin has no class token).
///
/// For (N, h·w, C) the grid comes from the option (`swin:7x7`), else from the patch embedding
/// in the graph halved per stage (⌈·/2ᵏ⌉, as patch merging pads odd sizes), else from the
/// grids of a square stride s over the input (⌊H/s⌋ or ⌈H/s⌉); none or several is an error.
final class SwinReshape: ReshapeTransform {
    let name = "swin"

    func apply(_ tensor: Tensor, context: ReshapeContext) throws -> Tensor {
        guard tensor.dtype == .float32 else { throw CAMError(.usage, "--reshape swin: \(TokenGrid.layer(context)) is \(tensor.dtype), not float32") }
        let forced = try TokenGrid.forced(context.options, transform: name)
        switch tensor.rank {
        case 4:
            let (n, h, w, c) = (tensor.shape[0], tensor.shape[1], tensor.shape[2], tensor.shape[3])
            if let forced, forced != Grid(height: h, width: w) {
                throw CAMError(.usage, "--reshape swin:\(forced): \(TokenGrid.layer(context)) is a \(h)x\(w) map (shape \(tensor.shape))")
            }
            return TokenGrid.tokensToImage(tensor.reshaped(to: [n, h * w, c]), skip: 0, grid: Grid(height: h, width: w))
        case 3:
            let grid = try self.grid(tokens: tensor.shape[1], forced: forced, context: context)
            return TokenGrid.tokensToImage(tensor, skip: 0, grid: grid)
        default:
            throw CAMError(.usage, "--reshape swin: \(TokenGrid.layer(context)) has shape \(tensor.shape); the swin transform takes (N, h, w, C) or (N, h·w, C)")
        }
    }

    func grid(tokens t: Int, forced: Grid?, context: ReshapeContext) throws -> Grid {
        let size = context.inputSize
        if let forced {
            guard forced.count == t else {
                throw CAMError(.usage, "--reshape swin:\(forced): \(TokenGrid.layer(context)) has \(t) tokens, not the \(forced.count) of a \(forced) grid")
            }
            return forced
        }
        if let patch = TokenGrid.patchEmbedding(context) {
            var g = patch.grid
            while g.count > t && g.count > 1 { g = Grid(height: (g.height + 1) / 2, width: (g.width + 1) / 2) }
            if g.count == t { return g }
        }
        let fits = TokenGrid.fitting(size, roundingUp: true).filter { $0.count == t }
        if fits.count == 1 { return fits.first! }
        if fits.isEmpty {
            throw CAMError(.usage, "--reshape swin: the \(t) tokens of \(TokenGrid.layer(context)) form no grid of a square stride over a \(size.height)x\(size.width) input; give the grid as --reshape swin:HxW")
        }
        throw CAMError(.usage, "--reshape swin: the \(t) tokens of \(TokenGrid.layer(context)) fit several grids for a \(size.height)x\(size.width) input: \(fits.listed); choose one with --reshape swin:HxW")
    }
}
