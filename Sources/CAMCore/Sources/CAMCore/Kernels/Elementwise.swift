/// Elementwise map kernels over float32 tensors, parallel over chunks.

@inline(__always)
func mapFloats(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let src = x.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
    parallelFor(x.count, grain: 32768) { r in
        for i in r { dst[i] = f(src[i]) }
    }
    return out
}

@inline(__always)
func mapFloats(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(a.shape == b.shape, "shape mismatch \(a.shape) vs \(b.shape)")
    let out = Tensor(uninitialized: a.shape)
    let pa = a.floats.baseAddress!, pb = b.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
    parallelFor(a.count, grain: 32768) { r in
        for i in r { dst[i] = f(pa[i], pb[i]) }
    }
    return out
}

/// `kernel(src, dst, n)` over the tensor in parallel chunks (a C kernel that maps floats).
func mapFloats(_ x: Tensor, kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let src = x.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
    parallelFor(x.count, grain: 32768) { r in kernel(src + r.lowerBound, dst + r.lowerBound, r.count) }
    withExtendedLifetime(x) {}
    return out
}
