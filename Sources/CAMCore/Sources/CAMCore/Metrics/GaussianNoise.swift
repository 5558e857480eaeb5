import Foundation

/// A seeded source of standard normal numbers (SplitMix64 and the Box–Muller transform),
/// for ROAD's imputation noise. It cannot be torch's `randn`; runs with the same seed repeat.
public struct GaussianNoise: Sendable {
    private var state: UInt64
    private var spare: Double?

    public init(seed: UInt64) {
        state = seed
    }

    private mutating func nextBits() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    private mutating func uniform() -> Double {
        (Double(nextBits() >> 11) + 1) / 9_007_199_254_740_992
    }

    /// One standard normal sample.
    public mutating func next() -> Double {
        if let s = spare {
            spare = nil
            return s
        }
        let r = (-2 * Foundation.log(uniform())).squareRoot()
        let theta = 2 * Double.pi * uniform()
        spare = r * Foundation.sin(theta)
        return r * Foundation.cos(theta)
    }
}
