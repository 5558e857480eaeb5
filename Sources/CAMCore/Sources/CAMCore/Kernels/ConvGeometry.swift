/// How padding is chosen for a convolution or pooling window.
public enum Padding: Sendable, Equatable {
    /// Explicit pads: all begins, then all ends (ONNX `pads` order).
    case explicit([Int])
    /// Pad so that output = ceil(input / stride); the extra pixel goes at the end.
    case sameUpper
    /// As `sameUpper`, with the extra pixel at the beginning.
    case sameLower
    /// No padding.
    case valid
}

/// The resolved 2-D geometry of a sliding window over an (N, C, H, W) input.
/// 1-D windows are handled as 2-D with H = 1.
struct WindowGeometry {
    var batch = 0, channels = 0, height = 0, width = 0
    var kernelH = 1, kernelW = 1
    var strideH = 1, strideW = 1
    var dilationH = 1, dilationW = 1
    var padTop = 0, padLeft = 0, padBottom = 0, padRight = 0
    var outHeight = 0, outWidth = 0

    /// Resolves the geometry. `kernel`, `strides`, `dilations` have one entry per spatial axis
    /// (1 or 2); empty `strides`/`dilations` mean 1.
    init(inputShape: [Int], kernel: [Int], strides: [Int], dilations: [Int], padding: Padding,
         ceilMode: Bool = false, op: String) throws {
        let spatial = inputShape.count - 2
        guard spatial == 1 || spatial == 2 else {
            throw CAMError(.unsupported, "\(op): \(spatial)-D windows are not supported (input shape \(inputShape); 1-D and 2-D are)")
        }
        guard kernel.count == spatial else {
            throw CAMError(.invalidModel, "\(op): kernel has \(kernel.count) spatial dimensions, input has \(spatial)")
        }
        let st = strides.isEmpty ? [Int](repeating: 1, count: spatial) : strides
        let di = dilations.isEmpty ? [Int](repeating: 1, count: spatial) : dilations
        guard st.count == spatial, di.count == spatial, st.allSatisfy({ $0 > 0 }), di.allSatisfy({ $0 > 0 }), kernel.allSatisfy({ $0 > 0 }) else {
            throw CAMError(.invalidModel, "\(op): strides \(strides), dilations \(dilations) and kernel \(kernel) must be positive, one per spatial axis")
        }
        batch = inputShape[0]
        channels = inputShape[1]
        let size = spatial == 2 ? [inputShape[2], inputShape[3]] : [1, inputShape[2]]
        height = size[0]; width = size[1]
        let k = spatial == 2 ? kernel : [1] + kernel
        let s = spatial == 2 ? st : [1] + st
        let d = spatial == 2 ? di : [1] + di
        kernelH = k[0]; kernelW = k[1]
        strideH = s[0]; strideW = s[1]
        dilationH = d[0]; dilationW = d[1]
        var begin = [0, 0], end = [0, 0]
        switch padding {
        case .explicit(let pads):
            guard pads.count == 2 * spatial, pads.allSatisfy({ $0 >= 0 }) else {
                throw CAMError(.invalidModel, "\(op): pads \(pads) must be \(2 * spatial) non-negative values")
            }
            if spatial == 2 { begin = [pads[0], pads[1]]; end = [pads[2], pads[3]] }
            else { begin = [0, pads[0]]; end = [0, pads[1]] }
        case .valid:
            break
        case .sameUpper, .sameLower:
            for i in 0..<2 {
                let out = (size[i] + s[i] - 1) / s[i]
                let total = Swift.max(0, (out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - size[i])
                let small = total / 2
                if padding == .sameUpper { begin[i] = small; end[i] = total - small }
                else { begin[i] = total - small; end[i] = small }
            }
        }
        padTop = begin[0]; padLeft = begin[1]; padBottom = end[0]; padRight = end[1]
        func outSize(_ n: Int, _ b: Int, _ e: Int, _ k: Int, _ s: Int, _ d: Int) -> Int {
            let span = n + b + e - d * (k - 1) - 1
            if span < 0 { return 0 }
            if !ceilMode { return span / s + 1 }
            var o = (span + s - 1) / s + 1
            // The last window must start inside the input or its leading padding.
            if (o - 1) * s >= n + b { o -= 1 }
            return o
        }
        outHeight = outSize(height, padTop, padBottom, kernelH, strideH, dilationH)
        outWidth = outSize(width, padLeft, padRight, kernelW, strideW, dilationW)
        guard outHeight > 0, outWidth > 0 else {
            throw CAMError(.runtime, "\(op): input \(inputShape) is too small for kernel \(kernel) (output would be empty)")
        }
        _ = try checkedShape([batch, channels, outHeight, outWidth], op)
    }

    /// The output shape in the input's rank (1-D inputs give 1-D outputs).
    func outputShape(channels c: Int, spatialRank: Int) -> [Int] {
        spatialRank == 2 ? [batch, c, outHeight, outWidth] : [batch, c, outWidth]
    }

    var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }
}
