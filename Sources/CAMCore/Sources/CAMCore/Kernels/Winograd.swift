import Foundation
internal import CKernels

/// 3×3, stride-1 convolutions by Winograd F(2×2, 3×3) (Lavin & Gray, 2016): each 2×2 output
/// tile from a 4×4 input tile with 16 multiplications instead of 36. Over a batch the 16
/// element-wise products become 16 independent GEMMs, `M_ξ = U_ξ · V_ξ`, of the transformed
/// filters U (out × in) and the transformed input tiles V (in × tiles); the input and output
/// transforms are C kernels (`winograd.c`). Input gradients of the same convolutions are
/// Winograd convolutions too, with the filters transposed and turned by 180°.
///
/// The transformed filters are computed once per weight tensor and kept while it lives
/// (`WinogradFilterCache`).
enum Winograd {
    /// Whether `g` (with `group`, `inChannels` → `outChannels`) is a convolution this handles,
    /// and the runtime is set to use it.
    static func applies(_ g: WindowGeometry, group: Int, inChannels: Int, outChannels: Int) -> Bool {
        Runtime.convolutionAlgorithm == .winograd && Runtime.gemmAccumulation == .single
            && group == 1 && g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1
            && g.dilationH == 1 && g.dilationW == 1 && g.padTop <= 2 && g.padLeft <= 2
            && inChannels >= 8 && outChannels >= 8
            && g.batch * ((g.outHeight + 1) / 2) * ((g.outWidth + 1) / 2) >= minimumTiles
    }

    /// Below this many tiles (small late layers at batch 1) the 16 transformed filter
    /// matrices, 16/9 the size of the weights, cost more to stream than the multiplications
    /// saved; im2col does better there (measured on ResNet-18's 7×7 and 14×14 layers).
    static let minimumTiles = 64

    /// The geometry of the input gradient of the stride-1 convolution `g`: a Winograd
    /// convolution of the output gradient (outHeight × outWidth) back to height × width.
    static func transposedGeometry(_ g: WindowGeometry) -> (padTop: Int, padLeft: Int) {
        (2 - g.padTop, 2 - g.padLeft)
    }

    /// `out = epilogue(conv3×3(x))` for a batch: `x` is (batch, inChannels, height, width),
    /// `filters` the 16 transformed (outChannels × inChannels) matrices, `out` is
    /// (batch, outChannels, outHeight, outWidth); the input is read with `padTop`/`padLeft`
    /// zeros before it and zeros after.
    static func convolve(_ x: UnsafePointer<Float>, batch: Int, inChannels c: Int, height: Int, width: Int,
                         padTop: Int, padLeft: Int, filters u: UnsafePointer<Float>, outChannels m: Int,
                         outHeight: Int, outWidth: Int, _ out: UnsafeMutablePointer<Float>, epilogue: OutputEpilogue) {
        let (th, tw) = ((outHeight + 1) / 2, (outWidth + 1) / 2)
        let tilesPerImage = th * tw
        // Images per chunk: V and M together within ~16 MB, so that they stay near the cache
        // and memory does not grow with the batch.
        let perImage = 16 * (c + m) * tilesPerImage
        let chunk = Swift.max(1, Swift.min(batch, (4 << 20) / Swift.max(perImage, 1)))
        let maxTiles = chunk * tilesPerImage
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * c * maxTiles)
        let products = UnsafeMutablePointer<Float>.allocate(capacity: 16 * m * maxTiles)
        defer { v.deallocate(); products.deallocate() }
        for first in stride(from: 0, to: batch, by: chunk) {
            let images = Swift.min(chunk, batch - first)
            let tiles = images * tilesPerImage
            // V_ξ is (c × tiles): image n's tiles are columns n·tilesPerImage ..< (n+1)·tilesPerImage.
            let xiStride = c * tiles
            parallelEach(images * c) { plane in
                let (n, ch) = plane.quotientAndRemainder(dividingBy: c)
                let src = x + ((first + n) * c + ch) * height * width
                let status = ck_winograd_input(src, Int32(height), Int32(width), Int32(padTop), Int32(padLeft), Int32(th), Int32(tw),
                                               v + ch * tiles + n * tilesPerImage, xiStride)
                // The kernels allocate one plane of scratch; failing that is running out of memory.
                precondition(status == 0, "out of memory in a Winograd convolution")
            }
            parallelEach(16) { xi in
                sgemmSerial(m: m, n: tiles, k: c, a: u + xi * m * c, lda: c, b: v + xi * xiStride, ldb: tiles,
                            c: products + xi * m * tiles, ldc: tiles)
            }
            parallelEach(images * m) { plane in
                let (n, ch) = plane.quotientAndRemainder(dividingBy: m)
                let dst = out + ((first + n) * m + ch) * outHeight * outWidth
                // The output transform applies bias and clamp itself; with a residual, all three after it.
                let fused = !epilogue.addsResidual
                let status = ck_winograd_output(products + ch * tiles + n * tilesPerImage, m * tiles, Int32(th), Int32(tw), dst,
                                                Int32(outHeight), Int32(outWidth), fused ? epilogue.bias?[ch] ?? 0 : 0,
                                                fused ? epilogue.lo : -.infinity, fused ? epilogue.hi : .infinity)
                precondition(status == 0, "out of memory in a Winograd convolution")
                if !fused { epilogue.apply(dst, count: outHeight * outWidth, channel: ch) }
            }
        }
    }
}

/// The Winograd-transformed filters of each weight tensor in use, computed on first use and
/// dropped when the weights are: 16/9 of the weights' size per direction (forward, and the
/// transposed filters of the input gradient when a gradient is asked for).
final class WinogradFilterCache: @unchecked Sendable {
    static let shared = WinogradFilterCache()

    private struct Entry {
        weak var weights: TensorBuffer?
        let transposed: Bool
        let filters: Tensor
    }
    private var entries: [Entry] = []
    private let lock = NSLock()

    /// The 16 transformed filter matrices of `w` (m, c, 3, 3): (m × c) each, or (c × m) for
    /// the transposed convolution.
    func filters(for w: Tensor, transposed: Bool) -> Tensor {
        lock.lock()
        defer { lock.unlock() }
        if let hit = entries.first(where: { $0.weights === w.buffer && $0.transposed == transposed }) { return hit.filters }
        entries.removeAll { $0.weights == nil }
        let (m, c) = (w.shape[0], w.shape[1])
        let u = Tensor(uninitialized: [16, transposed ? c : m, transposed ? m : c])
        ck_winograd_filters(w.floats.baseAddress!, Int32(m), Int32(c), transposed ? 1 : 0, u.mutableFloats.baseAddress!)
        withExtendedLifetime(w) {}
        entries.append(Entry(weights: w.buffer, transposed: transposed, filters: u))
        return u
    }
}
