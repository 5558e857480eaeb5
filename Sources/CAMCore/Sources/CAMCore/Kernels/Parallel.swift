import Dispatch
internal import CKernels

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
    parallelEach(chunks) { k in
        let lo = k * per
        let hi = min(count, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(i)` for `i` in `0..<count`, in parallel when there are several items: on the
/// runtime's own workers (`ck_parallel`, which wait for the next loop spinning, not asleep),
/// or, when those are busy with another thread's loop or this loop is nested in one, on
/// Dispatch's.
func parallelEach(_ count: Int, _ body: (Int) -> Void) {
    let threads = Runtime.threadCount
    if threads <= 1 || count <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    let scoped = Runtime.scopedAccumulation
    let ran = withoutActuallyEscaping(body) { body -> Bool in
        // Task-local values do not cross into other threads by themselves.
        var task: (Int) -> Void = { i in Runtime.inheriting(scoped) { body(i) } }
        return withUnsafeMutablePointer(to: &task) { pointer in
            ck_parallel(count, Int32(threads), { context, i in
                context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(i)
            }, pointer) == 0
        }
    }
    if !ran {
        DispatchQueue.concurrentPerform(iterations: count) { i in Runtime.inheriting(scoped) { body(i) } }
    }
}
