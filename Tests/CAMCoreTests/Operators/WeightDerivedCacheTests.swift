import Testing
import CAMCore
import TestSupport

/// What is derived from weights once and kept (`WeightDerivedCache`: packed matrices, Winograd
/// filters) belongs to those weights only: weights freed and others allocated in their place,
/// often at the same address, get their own, not the freed ones'.
@Suite("Weight-derived caches")
struct WeightDerivedCacheTests {
    @Test("weights allocated where freed ones were get their own packed form", arguments: [1, 3])
    func freshWeightsAreNotMistakenForFreedOnes(_ kernel: Int) throws {
        var rng = SplitMix(seed: UInt64(40 + kernel))
        let shape = [1, 24, 9, 9], m = 20, pad = kernel / 2
        let x = rng.tensor(shape), bias = rng.tensor([m])
        let reference = ReferenceConvolution(kernel: (kernel, kernel), pads: [pad, pad, pad, pad])
        let conv = Convolution(padding: .explicit([pad, pad, pad, pad]))
        for round in 0..<12 {
            // A new tensor each round; the last round's is freed by now.
            let weights = rng.tensor([m, 24, kernel, kernel])
            let y = try conv.forward([x, weights, bias])[0]
            let expected = reference.apply(x.toFloats(), shape: shape, weights: weights.toFloats(), outChannels: m, bias: bias.toFloats(),
                                           relu: false)
            #expect(ReferenceConvolution.relativeError(y.toFloats(), expected) < 1e-5, "round \(round)")
        }
    }
}
