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
        // One share per thread, split as the 1×1 convolution before it splits its output
        // (`PackedMatrix.splitsByRows`): whole channels for a deep layer, bands of rows (all
        // channels) for a large plane. Each thread then reads mostly what it has just written,
        // from its own cache. (EfficientNet-Lite0's depthwise layers summed 1.44–1.48 ms with
        // items handed out in turn, 1.38–1.40 this way.)
        if PackedMatrix.splitsByRows(rows: channels, columns: inPlane) {
            let per = (blocks + threads - 1) / threads
            parallelEach((blocks + per - 1) / per) { t in
                for block in t * per ..< min(blocks, (t + 1) * per) { run(image: 0, block: block, rows: 0..<g.outHeight) }
            }
        } else {
            let bands = min(threads, g.outHeight), per = (g.outHeight + bands - 1) / bands
            parallelEach(bands) { t in
                for block in 0..<blocks { run(image: 0, block: block, rows: t * per ..< min(g.outHeight, (t + 1) * per)) }
            }
        }
        return true
    }
    // A few items per thread, so that one slow item does not leave the other threads idle.
    let bands = min(g.outHeight, max(1, (4 * threads + items - 1) / items))
    let bandRows = (g.outHeight + bands - 1) / bands
    parallelEach(items * bands) { item in
        let band = item % bands, block = (item / bands) % blocks, image = item / (bands * blocks)
        let firstRow = band * bandRows
        run(image: image, block: block, rows: firstRow ..< min(g.outHeight, firstRow + bandRows))
    }
    return true
}
