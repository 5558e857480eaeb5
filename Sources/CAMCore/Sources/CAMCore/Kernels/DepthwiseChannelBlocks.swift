internal import CKernels

/// Depthwise convolution of a batch sixteen channels at a time (`ck_depthwise_channels`: one
/// channel per vector lane, so small planes waste no lanes), its epilogue applied as each
/// output row is stored. The work is shared among threads by image, block of channels and, when
/// there are too few blocks to go round, band of output rows.
///
/// Returns false, having done nothing, where that kernel does not run (no AVX-512, dilation);
/// the caller then convolves plane by plane.
func depthwiseInChannelBlocks(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ g: WindowGeometry, channels: Int,
                              _ out: UnsafeMutablePointer<Float>, epilogue: OutputEpilogue) -> Bool {
    let window = g.kernelWindow
    guard withUnsafePointer(to: window, { ck_depthwise_channels_available($0) }) != 0 else { return false }
    let lanes = 16
    let blocks = (channels + lanes - 1) / lanes, items = g.batch * blocks
    // A few items per thread, so that one slow item does not leave the other threads idle.
    let bands = min(g.outHeight, max(1, (4 * Runtime.threadCount + items - 1) / items))
    let bandRows = (g.outHeight + bands - 1) / bands
    let inPlane = g.height * g.width, outPlane = g.outHeight * g.outWidth, taps = g.kernelH * g.kernelW
    parallelEach(items * bands) { item in
        let band = item % bands, block = (item / bands) % blocks, image = item / (bands * blocks)
        let firstRow = band * bandRows, rows = min(bandRows, g.outHeight - firstRow)
        guard rows > 0 else { return }
        let firstChannel = block * lanes, plane = image * channels + firstChannel
        var e = epilogue.kernelEpilogue(storingAt: out + plane * outPlane)
        e.bias = epilogue.bias.map { $0 + firstChannel }
        var w = window
        let status = ck_depthwise_channels(x + plane * inPlane, weights + firstChannel * taps, &w, Int32(min(lanes, channels - firstChannel)),
                                           Int32(firstRow), Int32(rows), &e, out + plane * outPlane)
        // The kernel's only failure for a window it accepted is its scratch not being allocated.
        precondition(status == 0, "out of memory in a depthwise convolution")
    }
    return true
}
