/// A convolution over a large output plane as GEMMs on cache-sized tiles: each image's output
/// is cut into bands of whole output rows; a band's patch matrix (im2col, or the input itself
/// for a 1×1 convolution) and its product stay in cache while the band is unfolded, multiplied
/// and given its bias and activation — instead of three passes over the whole plane in memory.
/// Bands are spread over the threads, each multiplying on its own.
enum TiledConvolution {
    /// Whether `g` (ungrouped) is better done in tiles: output planes of at least `minimumPlane` pixels.
    static func applies(_ g: WindowGeometry, group: Int) -> Bool {
        group == 1 && g.outHeight * g.outWidth >= minimumPlane
    }

    /// Output planes from this size (ResNet-18's 28×28 stride-2 convolutions included) run in
    /// bands; smaller ones are unfolded for the whole batch at once. Measured on ResNet-18 at
    /// batch 8: 784-pixel planes 0.90 → 0.66 ms per image in bands, 196-pixel ones 0.58 → 0.94.
    static let minimumPlane = 512

    /// `out = epilogue(conv(x, w))` for (batch, c, h, w) → (batch, m, oh, ow), weights m × k.
    /// `packed` is `w` packed for `ck_gemm_packed`, where that runs.
    static func convolve(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, packed: PackedMatrix?, _ g: WindowGeometry,
                         outChannels m: Int, _ out: UnsafeMutablePointer<Float>, epilogue: OutputEpilogue) {
        let c = g.channels, k = c * g.kernelH * g.kernelW
        let (ow, p, hw) = (g.outWidth, g.outHeight * g.outWidth, g.height * g.width)
        let pointwise = g.isPointwise
        // About 1 MB of patch matrix and product per band.
        let bands = RowBands(outHeight: g.outHeight, batch: g.batch, rowsWanted: (1 << 18) / Swift.max((k + m) * ow, 1))
        let (bandRows, bandsPerImage) = (bands.rows, bands.perImage)
        let tasks = g.batch * bandsPerImage
        let workers = shareCount(tasks)
        let scratchSize = pointwise ? 0 : k * bandRows * ow
        let pooled = PooledFloats(count: workers * scratchSize)
        defer { pooled.release() }
        let scratch = pooled.pointer
        parallelShares(tasks) { worker, shared in
            let col = scratch + worker * scratchSize
            for task in shared {
                let (n, band) = task.quotientAndRemainder(dividingBy: bandsPerImage)
                let rows = bands.outputRows(band, outHeight: g.outHeight)
                let columns = rows.count * ow, first = rows.lowerBound * ow
                let image = x + n * c * hw
                let b: UnsafePointer<Float>
                let ldb: Int
                if pointwise {
                    (b, ldb) = (image + first, p)
                } else {
                    im2col(image, channels: c, g, col, outputRows: rows, parallel: false)
                    (b, ldb) = (UnsafePointer(col), columns)
                }
                let dst = out + n * m * p + first
                if let packed {
                    packed.multiply(rows: 0..<m, b, ldb: ldb, n: columns, into: dst, ldc: p, epilogue: epilogue)
                } else {
                    sgemmSerial(m: m, n: columns, k: k, a: w, lda: k, b: b, ldb: ldb, c: dst, ldc: p)
                    if !epilogue.isIdentity {
                        for ch in 0..<m { epilogue.apply(dst + ch * p, count: columns, channel: ch) }
                    }
                }
            }
        }
    }
}
