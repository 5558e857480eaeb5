internal import CKernels

/// Depthwise convolution of a batch sixteen channels at a time (`ck_depthwise_channels`: one
/// channel per vector lane, so small planes waste no lanes), its epilogue applied as each
/// output row is stored. A batch is shared among threads by image, block of channels and, when
/// there are too few blocks to go round, band of output rows; one image as its producer shared it.
///
/// Returns false, having done nothing, where that kernel does not run (no AVX-512, dilation);
/// the caller then convolves plane by plane.
func depthwiseInChannelBlocks(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ g: WindowGeometry, channels: Int,
                              _ out: UnsafeMutablePointer<Float>, epilogue: OutputEpilogue) -> Bool {
    let window = g.kernelWindow
    guard withUnsafePointer(to: window, { ck_depthwise_channels_available($0) }) != 0 else { return false }
    let lanes = 16
    let blocks = (channels + lanes - 1) / lanes, items = g.batch * blocks
    let inPlane = g.height * g.width, outPlane = g.outHeight * g.outWidth, taps = g.kernelH * g.kernelW
    func run(image: Int, block: Int, rows: Range<Int>) {
        guard !rows.isEmpty else { return }
        let firstChannel = block * lanes, plane = image * channels + firstChannel
        var e = epilogue.kernelEpilogue(storingAt: out + plane * outPlane)
        e.bias = epilogue.bias.map { $0 + firstChannel }
        var w = window
        let status = ck_depthwise_channels(x + plane * inPlane, weights + firstChannel * taps, &w, Int32(min(lanes, channels - firstChannel)),
                                           Int32(rows.lowerBound), Int32(rows.count), &e, out + plane * outPlane)
        // The kernel's only failure for a window it accepted is its scratch not being allocated.
        precondition(status == 0, "out of memory in a depthwise convolution")
    }
    let threads = Runtime.threadCount
    if g.batch == 1 && threads > 1 {
        // One share per thread: bands of rows (all channels) where the 1×1 convolution before
        // it cut its output in bands, so that each thread reads mostly what it has just
        // written, from its own cache; whole blocks of channels otherwise, and where a band
        // would be short enough for the rows it reads above and below it to cost more than
        // that saves. EfficientNet-Lite0, 2 threads, per layer: bands took 0.116 against
        // 0.127 ms (112 × 112) and 0.149 against 0.158 (56 × 56); channels 0.125 against
        // 0.140 on its 28 × 28 5 × 5 layer (14-row bands). All its depthwise layers summed
        // 1.44–1.48 ms with items handed out in turn, 1.25–1.30 so.
        if producerSharesByChannels(channels: channels, plane: inPlane) || g.outHeight < 16 * threads {
            parallelEachInShares(blocks) { block in run(image: 0, block: block, rows: 0..<g.outHeight) }
        } else {
            parallelShares(g.outHeight) { _, rows in
                for block in 0..<blocks { run(image: 0, block: block, rows: rows) }
            }
        }
        return true
    }
    // A batch: whole images per thread where there are enough to go round (pinned, as the
    // layers before share them), else bands of rows too.
    let bands = min(g.outHeight, max(1, (threads + items - 1) / items))
    let bandRows = (g.outHeight + bands - 1) / bands
    parallelEachInShares(items * bands) { item in
        let band = item % bands, block = (item / bands) % blocks, image = item / (bands * blocks)
        let firstRow = band * bandRows
        run(image: image, block: block, rows: firstRow ..< min(g.outHeight, firstRow + bandRows))
    }
    return true
}

/// Whether a 1×1 convolution producing one image of `channels` planes of `plane` pixels shares
/// it among threads by channels, as `PackedMatrix.multiply` does for small planes, rather than
/// by bands of rows, as `TiledConvolution` does for large ones.
private func producerSharesByChannels(channels: Int, plane: Int) -> Bool {
    plane < TiledConvolution.minimumPlane && PackedMatrix.splitsByRows(rows: channels, columns: plane)
}
