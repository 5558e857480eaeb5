import Testing
import CAMCore
import TestSupport

/// The runtime's parallel loops (`thread_pool.c`: one loop at a time on workers that spin
/// between loops, the others on Dispatch) under concurrent callers: convolutions whose
/// kernels fan out (depthwise blocks, thin and packed products, Winograd), run from several
/// tasks at once, give exactly what they give alone.
@Suite("Parallel loops under concurrent callers")
struct ParallelLoopTests {
    @Test func concurrentConvolutionsMatchSerialOnes() async throws {
        var rng = SplitMix(seed: 71)
        let cases: [(Convolution, [Tensor])] = [
            (Convolution(padding: .explicit([1, 1, 1, 1]), group: 48, activation: .clip(0, 6)),
             [rng.tensor([2, 48, 20, 20]), rng.tensor([48, 1, 3, 3]), rng.tensor([48])]),
            (Convolution(padding: .explicit([1, 1, 1, 1]), activation: .relu),
             [rng.tensor([1, 64, 7, 7]), rng.tensor([96, 64, 3, 3]), rng.tensor([96])]),
            (Convolution(padding: .explicit([1, 1, 1, 1])),
             [rng.tensor([4, 16, 24, 24]), rng.tensor([32, 16, 3, 3])]),
        ]
        let alone = try cases.map { try $0.0.forward($0.1)[0].toFloats() }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for task in 0..<6 {
                group.addTask {
                    for round in 0..<8 {
                        let i = (task + round) % cases.count
                        if try cases[i].0.forward(cases[i].1)[0].toFloats() != alone[i] { return false }
                    }
                    return true
                }
            }
            for try await same in group { #expect(same) }
        }
    }
}
