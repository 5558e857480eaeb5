import Testing
import Foundation
@_spi(Testing) import CAMCore
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

/// `parallelShares` (`ck_parallel_pinned`): one contiguous share per thread, each on the same
/// thread loop after loop (share 0 on the caller), so that layers cut alike find their data in
/// their own core's cache.
@Suite("Shares pinned to threads")
struct PinnedSharesTests {
    @Test func eachShareRunsOnTheSameThreadEveryTime() throws {
        let caller = UInt(bitPattern: Int(bitPattern: pthread_self()))
        // Other suites' loops run at the same time; a loop that finds the pool busy runs on
        // Dispatch instead, unpinned (nil), so only the pinned runs are checked, waiting for the
        // pool to be free (the other suites take a second or two) for up to 30 s.
        var first: [(thread: UInt, tasks: Range<Int>)]?
        var pinnedRuns = 0
        for _ in 0..<15_000 where pinnedRuns < 50 {
            guard let run = Runtime.threadsRunningShares(101) else {
                usleep(2000)
                continue
            }
            pinnedRuns += 1
            guard let first else {
                #expect(run.map(\.tasks).reduce(into: [Int]()) { $0 += Array($1) } == Array(0..<101), "shares cover the tasks in order, once each")
                #expect(run[0].thread == caller)
                #expect(Set(run.map(\.thread)).count == run.count, "one thread per share")
                first = run
                continue
            }
            #expect(run.map(\.thread) == first.map(\.thread))
        }
        #expect(pinnedRuns > 0)
        // Fewer tasks than threads: one task per share.
        #expect(Runtime.threadsRunningShares(1).map { $0.map(\.tasks) } == [0..<1])
    }
}
