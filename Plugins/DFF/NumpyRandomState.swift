import Foundation

/// numpy's legacy `RandomState(seed)`: the MT19937 generator seeded as `init_genrand`, and
/// `standard_normal` by the polar Box–Muller method with its cached second value — so that the
/// NMF's random start is sklearn's (`NMF(init='random', random_state=seed)`) bit for bit.
struct NumpyRandomState {
    private var key = [UInt32](repeating: 0, count: 624)
    private var pos = 624
    private var gauss: Double?

    init(seed: UInt32) {
        var s = seed
        for i in 0..<624 {
            key[i] = s
            s = 1_812_433_253 &* (s ^ (s >> 30)) &+ UInt32(i + 1)
        }
        pos = 624
    }

    private mutating func generate() {
        let upper: UInt32 = 0x8000_0000, lower: UInt32 = 0x7fff_ffff, matrix: UInt32 = 0x9908_b0df
        for i in 0..<624 {
            let y = (key[i] & upper) | (key[(i + 1) % 624] & lower)
            key[i] = key[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : matrix)
        }
        pos = 0
    }

    mutating func nextUInt32() -> UInt32 {
        if pos >= 624 { generate() }
        var y = key[pos]
        pos += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// `random_sample()`: 53 random bits in [0, 1).
    mutating func nextDouble() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `standard_normal()` (numpy's `legacy_gauss`).
    mutating func standardNormal() -> Double {
        if let g = gauss {
            gauss = nil
            return g
        }
        var x1 = 0.0, x2 = 0.0, r2 = 0.0
        repeat {
            x1 = 2 * nextDouble() - 1
            x2 = 2 * nextDouble() - 1
            r2 = x1 * x1 + x2 * x2
        } while r2 >= 1 || r2 == 0
        let f = (-2 * Foundation.log(r2) / r2).squareRoot()
        gauss = f * x1
        return f * x2
    }
}

/// numpy's float32 sum (`np.add.reduce` over a contiguous array): pairwise summation in
/// blocks of 128 with eight accumulators — needed for `A.mean()` to round as numpy's does.
func numpyPairwiseSum(_ a: UnsafeBufferPointer<Float>) -> Float {
    let n = a.count
    if n < 8 {
        var r: Float = 0
        for x in a { r += x }
        return r
    }
    if n <= 128 {
        var r = (0..<8).map { a[$0] }
        var i = 8
        while i < n - n % 8 {
            for j in 0..<8 { r[j] += a[i + j] }
            i += 8
        }
        var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n { res += a[i]; i += 1 }
        return res
    }
    var n2 = n / 2
    n2 -= n2 % 8
    return numpyPairwiseSum(UnsafeBufferPointer(rebasing: a[0..<n2])) + numpyPairwiseSum(UnsafeBufferPointer(rebasing: a[n2..<n]))
}
