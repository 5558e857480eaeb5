internal import CKernels

/// Convolutions as an implicit GEMM: the thin packed product (`ck_conv_packed_thin`) reads each
/// filter tap straight from a padded copy of the input, where the im2col path writes a patch
/// matrix (k × n floats: 1.8 MB for one of ResNet-18's 14 × 14 layers) and the product then
/// copies it again into panels. Same sums in the same order, so the same results, bit for bit.
///
/// Small planes (a deep layer's 14 × 14 or 7 × 7) share the output channels among the threads,
/// so that each reads only its part of the filters; larger ones run in bands of output rows.
enum ImplicitConvolution {
    /// Whether `g` runs this way, given ungrouped filters packed for the AVX-512 product: a
    /// stride across of 1 or 2, something to unfold (a 1 × 1 convolution with stride 1
    /// reads its input in place already), and padding that does not make the padded copy much
    /// larger than the input (a model may pad a small input by thousands; the im2col path then
    /// works in bounded bands instead).
    static func applies(_ g: WindowGeometry) -> Bool {
        guard (g.strideW == 1 || g.strideW == 2) && !g.isPointwise else { return false }
        let (reachH, reachW) = reach(g)
        return reachH * reachW <= 2 * g.height * g.width + 4096
    }

    /// The rows and columns of input (with its padding) that the windows reach.
    private static func reach(_ g: WindowGeometry) -> (Int, Int) {
        ((g.outHeight - 1) * g.strideH + (g.kernelH - 1) * g.dilationH + 1, (g.outWidth - 1) * g.strideW + (g.kernelW - 1) * g.dilationW + 1)
    }

    /// `out = epilogue(conv(x, w))` for (batch, c, h, w) → (batch, m, oh, ow), with `packed`
    /// the filters packed as the (m × c·kh·kw) left operand.
    static func convolve(_ x: UnsafePointer<Float>, packed: PackedMatrix, _ g: WindowGeometry, outChannels m: Int,
                         _ out: UnsafeMutablePointer<Float>, epilogue: OutputEpilogue) {
        let (input, window, padding) = paddedInput(x, g)
        defer { padding?.release() }
        let c = g.channels, p = g.outHeight * g.outWidth
        let planeIn = Int(window.height) * Int(window.width)
        if p < TiledConvolution.minimumPlane {
            // The output channels in chunks of whole packed blocks, one chunk per thread and image.
            let threads = m * p * c * g.kernelH * g.kernelW >= 1 << 20 ? Runtime.threadCount : 1
            let block = PackedMatrix.rowBlock
            let per = ((m + threads - 1) / threads + block - 1) / block * block
            let chunks = (m + per - 1) / per
            parallelEach(g.batch * chunks) { task in
                let (n, chunk) = task.quotientAndRemainder(dividingBy: chunks)
                let rows = chunk * per ..< Swift.min(m, (chunk + 1) * per)
                run(packed, rows: rows, input + n * c * planeIn, channels: c, window, outputRows: 0..<g.outHeight, out + n * m * p, ldc: p,
                    epilogue: epilogue)
            }
            return
        }
        // Bands of output rows whose sums (48 rows of C by the band's columns per strip) stay
        // within about 512 KB.
        let strips = (m + 47) / 48
        let bands = RowBands(outHeight: g.outHeight, batch: g.batch, rowsWanted: (1 << 17) / Swift.max(48 * strips * g.outWidth, 1))
        parallelEachInShares(g.batch * bands.perImage) { task in
            let (n, band) = task.quotientAndRemainder(dividingBy: bands.perImage)
            let outputRows = bands.outputRows(band, outHeight: g.outHeight)
            run(packed, rows: 0..<m, input + n * c * planeIn, channels: c, window, outputRows: outputRows, out + n * m * p, ldc: p,
                epilogue: epilogue)
        }
    }

    /// Rows `rows` (output channels) and `outputRows` of one image's output `out`, with the
    /// epilogue as they are stored.
    private static func run(_ packed: PackedMatrix, rows: Range<Int>, _ x: UnsafePointer<Float>, channels: Int, _ window: ck_window,
                            outputRows: Range<Int>, _ out: UnsafeMutablePointer<Float>, ldc: Int, epilogue: OutputEpilogue) {
        var window = window
        let a = packed.storage.floats.baseAddress! + packed.offset
        let fused = epilogue.kernelEpilogue(storingAt: out)
        let status = withUnsafePointer(to: fused) { fusedPointer in
            ck_conv_packed_thin(a, Int32(packed.rows), Int32(rows.lowerBound), Int32(rows.count), x, Int32(channels), &window,
                                Int32(outputRows.lowerBound), Int32(outputRows.count), out, ldc, epilogue.isIdentity ? nil : fusedPointer)
        }
        precondition(status == 0, "implicit convolution failed (\(status): out of memory, or rows \(rows) outside \(packed.rows))")
    }

    /// The input as the product reads it: each plane with its padding around it, cropped to
    /// the rows and columns the windows reach (nil pooled copy when it can be read in place),
    /// and the window over it (no padding).
    private static func paddedInput(_ x: UnsafePointer<Float>, _ g: WindowGeometry) -> (UnsafePointer<Float>, ck_window, PooledFloats?) {
        let (reachH, reachW) = reach(g)
        var window = g.kernelWindow
        (window.pad_top, window.pad_left) = (0, 0)
        if g.padTop == 0 && g.padLeft == 0 && reachH <= g.height && reachW <= g.width {
            return (x, window, nil)
        }
        (window.height, window.width) = (Int32(reachH), Int32(reachW))
        let planes = g.batch * g.channels
        let copy = PooledFloats(count: planes * reachH * reachW)
        let dst = copy.pointer
        parallelFor(planes, grain: Swift.max(1, 16384 / (reachH * reachW))) { r in
            ck_pad_planes(x, Int32(g.height), Int32(g.width), Int32(g.padTop), Int32(g.padLeft), Int32(reachH), Int32(reachW),
                          r.lowerBound, r.count, dst)
        }
        return (UnsafePointer(dst), window, copy)
    }
}
