internal import CKernels

/// im2col / col2im for 2-D windows: the unfolded patches of `channels` planes of one image
/// as a (channels·kh·kw) × (outH·outW) matrix, and its transpose-accumulate.

/// Writes the patch matrix of `channels` planes starting at `x` into `col`, whose rows are
/// `rowPitch` floats apart (default: packed). With `outputRows`, only the columns of those
/// output rows (oy in the range, column (oy − start)·ow + ox); `parallel: false` keeps it on
/// the calling thread.
func im2col(_ x: UnsafePointer<Float>, channels: Int, _ g: WindowGeometry, _ col: UnsafeMutablePointer<Float>, rowPitch: Int? = nil,
            outputRows: Range<Int>? = nil, parallel: Bool = true) {
    let h = g.height, w = g.width, ow = g.outWidth
    let kh = g.kernelH, kw = g.kernelW
    let rows = outputRows ?? 0..<g.outHeight
    let pitch = rowPitch ?? rows.count * ow
    let body = { (range: Range<Int>) in
        for row in range {
            let c = row / (kh * kw), ky = (row / kw) % kh, kx = row % kw
            let plane = x + c * h * w
            let dst = col + row * pitch
            let xOffset = kx * g.dilationW - g.padLeft
            // Output columns whose input column is inside the image.
            var oxLo = 0, oxHi = ow
            while oxLo < ow && oxLo * g.strideW + xOffset < 0 { oxLo += 1 }
            while oxHi > oxLo && (oxHi - 1) * g.strideW + xOffset >= w { oxHi -= 1 }
            for oy in rows {
                let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                let d = dst + (oy - rows.lowerBound) * ow
                if iy < 0 || iy >= h {
                    d.update(repeating: 0, count: ow)
                    continue
                }
                let src = plane + iy * w + xOffset
                for ox in 0..<oxLo { d[ox] = 0 }
                if g.strideW == 1 {
                    (d + oxLo).update(from: src + oxLo, count: oxHi - oxLo)
                } else if g.strideW == 2 {
                    // A constant stride the compiler turns into vector shuffles (ResNet stems, downsampling).
                    for ox in oxLo..<oxHi { d[ox] = src[2 * ox] }
                } else {
                    for ox in oxLo..<oxHi { d[ox] = src[ox * g.strideW] }
                }
                for ox in oxHi..<ow { d[ox] = 0 }
            }
        }
    }
    if parallel { parallelFor(channels * kh * kw, grain: 8, body) } else { body(0..<(channels * kh * kw)) }
}

/// Adds the patch matrix `col` back into the `channels` planes at `x` (the transpose of im2col).
func col2imAdd(_ col: UnsafePointer<Float>, channels: Int, _ g: WindowGeometry, _ x: UnsafeMutablePointer<Float>) {
    let h = g.height, w = g.width, oh = g.outHeight, ow = g.outWidth
    let kh = g.kernelH, kw = g.kernelW
    parallelFor(channels, grain: 1) { cs in
        for c in cs {
            let plane = x + c * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let src = col + ((c * kh + ky) * kw + kx) * oh * ow
                    let xOffset = kx * g.dilationW - g.padLeft
                    var oxLo = 0, oxHi = ow
                    while oxLo < ow && oxLo * g.strideW + xOffset < 0 { oxLo += 1 }
                    while oxHi > oxLo && (oxHi - 1) * g.strideW + xOffset >= w { oxHi -= 1 }
                    for oy in 0..<oh {
                        let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                        if iy < 0 || iy >= h { continue }
                        let dst = plane + iy * w + xOffset
                        let s = src + oy * ow
                        if g.strideW == 1 {
                            for ox in oxLo..<oxHi { dst[ox] += s[ox] }
                        } else {
                            for ox in oxLo..<oxHi { dst[ox * g.strideW] += s[ox] }
                        }
                    }
                }
            }
        }
    }
}

extension WindowGeometry {
    /// The geometry as the C kernels take it.
    var kernelWindow: ck_window {
        ck_window(height: Int32(height), width: Int32(width), out_height: Int32(outHeight), out_width: Int32(outWidth),
                  kernel_h: Int32(kernelH), kernel_w: Int32(kernelW), stride_h: Int32(strideH), stride_w: Int32(strideW),
                  dilation_h: Int32(dilationH), dilation_w: Int32(dilationW), pad_top: Int32(padTop), pad_left: Int32(padLeft))
    }
}

/// Depthwise 2-D correlation of one plane with its epilogue:
/// `out[oy, ox] = epilogue(Σ w[ky, kx] · x[iy, ix])` (vectorised for the machine's
/// instruction set, see `CKernels`), or accumulated in double (`inDouble`, read once per
/// convolution from `Runtime.gemmAccumulation` rather than once per plane).
@inline(__always)
func depthwisePlane(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ g: WindowGeometry, _ out: UnsafeMutablePointer<Float>,
                    epilogue: OutputEpilogue, channel: Int, inDouble: Bool) {
    if inDouble {
        out.update(repeating: 0, count: g.outHeight * g.outWidth)
        depthwiseInDouble(x, weights, g, out, transposed: false)
        epilogue.apply(out, count: g.outHeight * g.outWidth, channel: channel)
        return
    }
    var w = g.kernelWindow
    let status = ck_depthwise_plane(x, weights, &w, out, epilogue.bias?[channel] ?? 0, epilogue.lo, epilogue.hi)
    // The kernel allocates one padded plane of scratch; failing that is running out of memory.
    precondition(status == 0, "out of memory in a depthwise convolution")
}

/// `depthwisePlane` (or its transpose) accumulated in double, rounded once: what
/// `Runtime.gemmAccumulation = .double` asks of every product, depthwise ones included.
func depthwiseInDouble(_ a: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ g: WindowGeometry, _ b: UnsafeMutablePointer<Float>,
                       transposed: Bool) {
    let (oh, ow, h, w) = (g.outHeight, g.outWidth, g.height, g.width)
    let count = transposed ? h * w : oh * ow
    var acc = [Double](repeating: 0, count: count)
    for i in 0..<count { acc[i] = Double(b[i]) }
    for oy in 0..<oh {
        for ky in 0..<g.kernelH {
            let iy = oy * g.strideH - g.padTop + ky * g.dilationH
            guard iy >= 0, iy < h else { continue }
            for kx in 0..<g.kernelW {
                let wv = Double(weights[ky * g.kernelW + kx])
                for ox in 0..<ow {
                    let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                    guard ix >= 0, ix < w else { continue }
                    if transposed { acc[iy * w + ix] += wv * Double(a[oy * ow + ox]) } else { acc[oy * ow + ox] += wv * Double(a[iy * w + ix]) }
                }
            }
        }
    }
    for i in 0..<count { b[i] = Float(acc[i]) }
}

/// The transpose of `depthwisePlane`: scatters `gOut` back through the kernel into `gIn`.
@inline(__always)
func depthwisePlaneTransposed(_ gOut: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ g: WindowGeometry, _ gIn: UnsafeMutablePointer<Float>,
                              inDouble: Bool) {
    if inDouble { return depthwiseInDouble(gOut, weights, g, gIn, transposed: true) }
    var w = g.kernelWindow
    ck_depthwise_plane_transposed(gOut, weights, &w, gIn)
}
