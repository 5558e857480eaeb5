import CAMCore

/// `--reshape vit`: a ViT / DeiT token tensor (N, T, C) → (N, C, h, w), dropping the leading
/// class (and distillation, register) tokens — upstream's `vit_reshape_transform` without its
/// hard-coded 14×14.
///
/// The grid comes from, in order:
/// 1. the option: `vit:14x14` (the first T − 196 tokens are dropped);
/// 2. the graph: the patch-embedding convolution (kernel = stride) upstream of the layer gives
///    the grid for the input size; T minus its size is the number of leading tokens;
/// 3. the token count alone: the grids ⌊H/s⌋×⌊W/s⌋ of a square patch s that leave 0…5 leading
///    tokens. One fit is taken; none, or several, is an error naming them.
final class ViTReshape: ReshapeTransform {
    let name = "vit"
    /// At most this many leading tokens are dropped when the grid is inferred from the count
    /// (class + distillation = 2; class + 4 registers = 5).
    static let maxLeadingTokens = 5

    /// One way to read the tokens: drop `skip`, the rest is `grid`.
    struct Layout: Hashable {
        let skip: Int
        let grid: Grid
        var description: String { "\(grid) after \(skip) leading token\(skip == 1 ? "" : "s")" }
    }

    func apply(_ tensor: Tensor, context: ReshapeContext) throws -> Tensor {
        guard tensor.rank == 3, tensor.dtype == .float32 else {
            throw CAMError(.usage, "--reshape vit: \(TokenGrid.layer(context)) has shape \(tensor.shape); the vit transform takes tokens (N, tokens, channels)"
                + (tensor.rank == 4 ? " (a 4-D layer needs no vit transform; for Swin's (N, h, w, C) use --reshape swin)" : ""))
        }
        let layout = try self.layout(tokens: tensor.shape[1], context: context)
        return TokenGrid.tokensToImage(tensor, skip: layout.skip, grid: layout.grid)
    }

    func layout(tokens t: Int, context: ReshapeContext) throws -> Layout {
        let size = context.inputSize
        if let grid = try TokenGrid.forced(context.options, transform: name) {
            guard grid.count <= t else {
                throw CAMError(.usage, "--reshape vit:\(grid): \(TokenGrid.layer(context)) has \(t) tokens, fewer than the \(grid.count) of a \(grid) grid")
            }
            return Layout(skip: t - grid.count, grid: grid)
        }
        let patch = TokenGrid.patchEmbedding(context)
        if let patch, patch.grid.count <= t, t - patch.grid.count <= Self.maxLeadingTokens {
            return Layout(skip: t - patch.grid.count, grid: patch.grid)
        }
        let grids = TokenGrid.fitting(size, roundingUp: false)
        var fits: [Layout] = []
        for skip in 0...Swift.min(Self.maxLeadingTokens, t) {
            for g in grids where g.count == t - skip { fits.append(Layout(skip: skip, grid: g)) }
        }
        let patchNote = patch.map { " (the patch embedding '\($0.node)', \($0.patch.map(String.init).joined(separator: "x")) patches, gives a \($0.grid) grid, which does not match)" }
            ?? (context.model == nil ? "" : " (no patch-embedding convolution found upstream of it)")
        if fits.count == 1 { return fits[0] }
        if fits.isEmpty {
            throw CAMError(.usage, "--reshape vit: cannot find the token grid of \(TokenGrid.layer(context))\(patchNote): its \(t) tokens do not form a grid of square patches of a \(size.height)x\(size.width) input after dropping 0–\(Self.maxLeadingTokens) leading tokens; give the grid as --reshape vit:HxW")
        }
        let sorted = fits.sorted { ($0.skip, $0.grid.height, $0.grid.width) < ($1.skip, $1.grid.height, $1.grid.width) }
        throw CAMError(.usage, "--reshape vit: the \(t) tokens of \(TokenGrid.layer(context)) fit several grids for a \(size.height)x\(size.width) input\(patchNote): \(sorted.map(\.description).joined(separator: "; ")); choose one with --reshape vit:HxW (e.g. vit:\(sorted[0].grid))")
    }
}
