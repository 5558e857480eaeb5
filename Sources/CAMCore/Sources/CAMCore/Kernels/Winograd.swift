import Foundation
internal import CKernels

/// 3×3, stride-1 convolutions by Winograd F(t×t, 3×3) (Lavin & Gray, 2016), t = 4 or 2: each
/// t×t output tile from a (t+2)² input tile with (t+2)² multiplications instead of 9t² — 4×
/// fewer for F(4×4), 2.25× for F(2×2). Over a batch the element-wise products become (t+2)²
/// independent GEMMs, `M_ξ = U_ξ · V_ξ`, of the transformed filters U (out × in) and the
/// transformed input tiles V (in × tiles); the input and output transforms are C kernels
/// (`winograd.c`, and `winograd4_avx512.c` for F(4×4) on AVX-512). Input gradients of the
/// same convolutions are Winograd convolutions too, with the filters transposed and turned
/// by 180°.
///
/// The transformed filters are computed once per weight tensor and tile size, and kept while
/// the weights live (`WinogradFilterCache`).
enum Winograd {
    /// The output tile: F(4×4, 3×3), fewer multiplications and a little more rounding, or
    /// F(2×2, 3×3), whose transforms round like a direct convolution.
    enum Tile: Int, Sendable {
        case four = 4, two = 2
        /// The input tile's side, t + 2.
        var alpha: Int { rawValue + 2 }
        /// The number of element-wise products (GEMMs), (t + 2)².
        var positions: Int { alpha * alpha }
        /// Tiles covering an h × w output.
        func tiles(_ h: Int, _ w: Int) -> (Int, Int) { ((h + rawValue - 1) / rawValue, (w + rawValue - 1) / rawValue) }
    }

    /// The tile `g` (with `group`, `inChannels` → `outChannels`) is convolved with, or `nil`
    /// when it is not a convolution Winograd handles or the runtime is set against it.
    static func tile(for g: WindowGeometry, group: Int, inChannels: Int, outChannels: Int) -> Tile? {
        let algorithm = Runtime.convolutionAlgorithm
        guard algorithm != .im2col, Runtime.gemmAccumulation == .single,
              group == 1, g.kernelH == 3, g.kernelW == 3, g.strideH == 1, g.strideW == 1,
              g.dilationH == 1, g.dilationW == 1, g.padTop <= 2, g.padLeft <= 2,
              inChannels >= 8, outChannels >= 8 else { return nil }
        func enough(_ tile: Tile) -> Bool {
            let (th, tw) = tile.tiles(g.outHeight, g.outWidth)
            return g.batch * th * tw >= minimumTiles(tile)
        }
        if algorithm == .winograd, enough(.four) { return .four }
        return enough(.two) ? .two : nil
    }

    /// Below this many tiles (small late layers at batch 1) the transformed filter matrices,
    /// (t+2)²/9 the size of the weights, cost more to stream than the multiplications saved;
    /// im2col does better there (measured on ResNet-18's 7×7 and 14×14 layers). F(4×4)'s
    /// filters are 4× the weights: below 48 tiles (ResNet-18's 7×7 layer at batch 8) F(2×2)
    /// is as fast and holds 2.25× less (measured: 32, 48, 64 and 128 tiles at batch 1, 8, 16).
    static func minimumTiles(_ tile: Tile) -> Int { tile == .four ? 48 : 64 }

    /// The geometry of the input gradient of the stride-1 convolution `g`: a Winograd
    /// convolution of the output gradient (outHeight × outWidth) back to height × width.
    static func transposedGeometry(_ g: WindowGeometry) -> (padTop: Int, padLeft: Int) {
        (2 - g.padTop, 2 - g.padLeft)
    }

    /// How the images of a batch are laid side by side for the transforms: `planes` planes of
    /// one channel in a strip, plane n from column n·`period`, with zero columns between them
    /// (at least the padding on either side, so that no tile mixes two images). A deep
    /// layer's small planes then fill the transforms' 16-tile vectors: ResNet's 7 × 7 planes
    /// are 2 tiles wide alone, 32 in a strip of 16.
    struct StripLayout {
        let planes: Int, period: Int
        /// The strip's tiles (rows, columns) and their count.
        let tilesHigh: Int, tilesWide: Int
        var tiles: Int { tilesHigh * tilesWide }

        /// Strips about 64 tiles wide (or the whole batch, if narrower), the `batch` images
        /// shared evenly among them.
        init(tile: Tile, batch: Int, width: Int, padLeft: Int, outHeight: Int, outWidth: Int) {
            let padRight = outWidth + 2 - width - padLeft
            let period = width + Swift.max(padLeft, padRight, outWidth - width, 0)
            let targetColumns = 64 * tile.rawValue
            let most = Swift.max(1, Swift.min(batch, (targetColumns + period - 1) / period))
            let strips = (batch + most - 1) / most
            planes = (batch + strips - 1) / strips
            self.period = period
            (tilesHigh, tilesWide) = tile.tiles(outHeight, (planes - 1) * period + outWidth)
        }

        func strip(_ planes: Int, imageStride: Int) -> ck_strip {
            ck_strip(planes: Int32(planes), period: Int32(period), stride: imageStride)
        }
    }

    /// `out = epilogue(conv3×3(x))` for a batch: `x` is (batch, inChannels, height, width),
    /// `filters` the (t+2)² transformed (outChannels × inChannels) matrices, `out` is
    /// (batch, outChannels, outHeight, outWidth); the input is read with `padTop`/`padLeft`
    /// zeros before it and zeros after.
    static func convolve(_ x: UnsafePointer<Float>, batch: Int, inChannels c: Int, height: Int, width: Int,
                         padTop: Int, padLeft: Int, tile: Tile, filters: TransformedFilters, outChannels m: Int,
                         outHeight: Int, outWidth: Int, _ out: UnsafeMutablePointer<Float>, epilogue: OutputEpilogue) {
        let layout = StripLayout(tile: tile, batch: batch, width: width, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth)
        let positions = tile.positions
        let (inPlane, outPlane) = (height * width, outHeight * outWidth)
        // Strips per chunk: V and M together within ~16 MB, so that they stay near the cache
        // and memory does not grow with the batch (smaller chunks measured slower, larger too).
        let perStrip = positions * (c + m) * layout.tiles
        let stripCount = (batch + layout.planes - 1) / layout.planes
        let chunk = Swift.max(1, Swift.min(stripCount, (4 << 20) / Swift.max(perStrip, 1)))
        let maxTiles = chunk * layout.tiles
        let vScratch = PooledFloats(count: positions * c * maxTiles), productScratch = PooledFloats(count: positions * m * maxTiles)
        defer { vScratch.release(); productScratch.release() }
        let (v, products) = (vScratch.pointer, productScratch.pointer)
        for firstStrip in stride(from: 0, to: stripCount, by: chunk) {
            let strips = Swift.min(chunk, stripCount - firstStrip)
            let tiles = strips * layout.tiles
            /// The images of strip `s` of this chunk: (first image, count).
            func images(_ s: Int) -> (Int, Int) {
                let first = (firstStrip + s) * layout.planes
                return (first, Swift.min(layout.planes, batch - first))
            }
            // V_ξ is (c × tiles): strip s's tiles are columns s·layout.tiles ..< (s+1)·layout.tiles.
            let xiStride = c * tiles
            // The transforms in pinned shares of whole channels, as the layers before and after
            // share theirs, so that each thread reads the channels it wrote.
            parallelEachInShares(strips * c) { task in
                let (s, ch) = task.quotientAndRemainder(dividingBy: c)
                let (first, count) = images(s)
                let status = ck_winograd_input(x + (first * c + ch) * inPlane, Int32(height), Int32(width), Int32(padTop), Int32(padLeft),
                                               Int32(tile.rawValue), Int32(layout.tilesHigh), Int32(layout.tilesWide),
                                               v + ch * tiles + s * layout.tiles, xiStride, layout.strip(count, imageStride: c * inPlane))
                // The kernels take one strip of per-thread scratch; failing that is running out of memory.
                precondition(status == 0, "out of memory in a Winograd convolution")
            }
            parallelEach(positions) { xi in
                filters.multiply(position: xi, v + xi * xiStride, columns: tiles, into: products + xi * m * tiles)
            }
            parallelEachInShares(strips * m) { task in
                let (s, ch) = task.quotientAndRemainder(dividingBy: m)
                let (first, count) = images(s)
                let dst = out + (first * m + ch) * outPlane
                // The output transform applies bias and clamp itself; with a residual, all three after it.
                let fused = !epilogue.addsResidual
                let status = ck_winograd_output(products + ch * tiles + s * layout.tiles, m * tiles, Int32(tile.rawValue),
                                                Int32(layout.tilesHigh), Int32(layout.tilesWide), dst,
                                                Int32(outHeight), Int32(outWidth), fused ? epilogue.bias?[ch] ?? 0 : 0,
                                                fused ? epilogue.lo : -.infinity, fused ? epilogue.hi : .infinity,
                                                layout.strip(count, imageStride: m * outPlane))
                precondition(status == 0, "out of memory in a Winograd convolution")
                if !fused {
                    for n in 0..<count { epilogue.apply(dst + n * m * outPlane, count: outPlane, channel: ch) }
                }
            }
        }
    }
}

/// The (t+2)² transformed filter matrices of one weight tensor, (rows × columns) each: plain
/// row-major for BLAS, or each packed once as a `PackedMatrix` where that runs (AVX-512).
struct TransformedFilters: @unchecked Sendable {
    let storage: Tensor
    let rows: Int, columns: Int
    let packed: [PackedMatrix]?

    /// `(rows × columns) · b` for the matrix at `position`: `b` is (columns × n) row-major, the
    /// product (rows × n) is written row-major into `out`, on the calling thread.
    func multiply(position: Int, _ b: UnsafePointer<Float>, columns n: Int, into out: UnsafeMutablePointer<Float>) {
        if let packed {
            packed[position].multiply(rows: 0..<rows, b, ldb: n, n: n, into: out, ldc: n)
        } else {
            sgemmSerial(m: rows, n: n, k: columns, a: storage.floats.baseAddress! + position * rows * columns, lda: columns,
                        b: b, ldb: n, c: out, ldc: n)
        }
    }
}

/// The Winograd-transformed filters of each weight tensor in use, computed on first use and
/// dropped when the weights are: (t+2)²/9 of the weights' size per tile size and direction
/// (forward, and the transposed filters of the input gradient when a gradient is asked for).
enum WinogradFilterCache {
    private struct Key: Equatable {
        let transposed: Bool
        let tile: Winograd.Tile
    }
    private static let cache = WeightDerivedCache<Key, TransformedFilters>()

    /// The (t+2)² transformed filter matrices of `w` (m, c, 3, 3) for `tile`: (m × c) each,
    /// or (c × m) for the transposed convolution.
    static func filters(for w: Tensor, transposed: Bool, tile: Winograd.Tile) -> TransformedFilters {
        cache.value(for: w, key: Key(transposed: transposed, tile: tile)) {
            let (m, c) = (w.shape[0], w.shape[1])
            let (rows, columns) = transposed ? (c, m) : (m, c)
            guard PackedMatrix.isAvailable else {
                let u = Tensor(uninitialized: [tile.positions, rows, columns])
                ck_winograd_filters(w.floats.baseAddress!, Int32(m), Int32(c), transposed ? 1 : 0, Int32(tile.rawValue),
                                    u.mutableFloats.baseAddress!)
                return TransformedFilters(storage: u, rows: rows, columns: columns, packed: nil)
            }
            // The unpacked transforms are temporary: malloc'd rather than a pooled tensor, so
            // that their memory goes back to the system instead of staying in the buffer pool.
            let u = UnsafeMutablePointer<Float>.allocate(capacity: tile.positions * rows * columns)
            defer { u.deallocate() }
            ck_winograd_filters(w.floats.baseAddress!, Int32(m), Int32(c), transposed ? 1 : 0, Int32(tile.rawValue), u)
            let size = PackedMatrix.count(rows: rows, columns: columns)
            let storage = Tensor(uninitialized: [tile.positions, size])
            let packed = (0..<tile.positions).map { xi in
                PackedMatrix(packing: u + xi * rows * columns, lda: columns, rows: rows, columns: columns, into: storage,
                             offset: xi * size)
            }
            return TransformedFilters(storage: storage, rows: rows, columns: columns, packed: packed)
        }
    }
}
