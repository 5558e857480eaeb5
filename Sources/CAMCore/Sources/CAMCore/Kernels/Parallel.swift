import Dispatch

/// Runs `body(range)` over `0..<count` split into contiguous chunks on the available cores.
/// Small loops (below `grain` iterations in all) run inline.
@inline(__always)
func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
    let workers = Runtime.threadCount
    if workers <= 1 || count < 2 * grain {
        if count > 0 { body(0..<count) }
        return
    }
    let chunks = min(workers * 4, (count + grain - 1) / grain)
    let per = (count + chunks - 1) / chunks
    let scoped = Runtime.scopedAccumulation
    DispatchQueue.concurrentPerform(iterations: chunks) { k in
        let lo = k * per
        let hi = min(count, lo + per)
        if lo < hi { Runtime.inheriting(scoped) { body(lo..<hi) } }
    }
}

/// Runs `body(i)` for `i` in `0..<count`, in parallel when there are several items.
@inline(__always)
func parallelEach(_ count: Int, _ body: (Int) -> Void) {
    if Runtime.threadCount <= 1 || count <= 1 {
        for i in 0..<count { body(i) }
    } else {
        let scoped = Runtime.scopedAccumulation
        DispatchQueue.concurrentPerform(iterations: count) { i in Runtime.inheriting(scoped) { body(i) } }
    }
}
